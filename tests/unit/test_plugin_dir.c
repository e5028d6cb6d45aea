/* SPDX-License-Identifier: MIT */
/* test_plugin_dir.c - vmm_plugin_dir(): the plugin folder the library was built for. */
#include <criterion/criterion.h>
#include <string.h>

#include "vmm/vmm.h"

/* TEST_PLUGINDIR is the Makefile's PLUGINDIR, the value the library was compiled with. */
Test(plugin_dir, is_the_plugindir_the_build_was_configured_with)
{
	cr_assert_str_eq(vmm_plugin_dir(), TEST_PLUGINDIR);
}

Test(plugin_dir, is_an_absolute_path_without_a_trailing_slash)
{
	const char *dir = vmm_plugin_dir();
	size_t n = strlen(dir);

	cr_assert(n > 1 && dir[0] == '/', "'%s' is not absolute", dir);
	cr_assert_neq(dir[n - 1], '/', "'%s' ends in a slash", dir);
}

Test(plugin_dir, is_one_static_string)
{
	cr_assert_eq(vmm_plugin_dir(), vmm_plugin_dir());
}
