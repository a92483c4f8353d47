"""Bazel 7/8's command-line options, as the catalogue of what kiln accepts.

Every option of Bazel's reference for the commands kiln has, the `common`/`always` rc sections and
`startup`, taken from Bazel's command-line reference (the current one, and options of Bazel 7 that
later releases retired), and why kiln ignores the ones it does not
honour (shown by --announce_rc). The options kiln honours are kiln.cli.option_table's, marked
`@kiln` here. Only parsing an option kiln's own table lacks, suggesting a name, and help read this
module, so a no-op build does not import it.

Format of CATALOGUE, one option a line:

- `[cmd cmd ...]` starts the options of those commands (`[common]`: every command);
- `@reason` says why the options below are ignored (a key of REASONS; `@kiln`: kiln honours them);
- `name` is a boolean (`--name`, `--noname`, `--name=false`), `name?` a tristate (also `auto`),
  `name~` a boolean that also takes any value, `name=` takes a value, `name*` a value and may be
  repeated, `name!` takes no value (it stands for other options); a trailing ` -x` is its
  one-letter form.
"""

from __future__ import annotations

REASONS = {
    "actioncache": "kiln garbage-collects no action cache in the background",
    "actionenv": "actions always get a fixed environment",
    "analysistest": "kiln has no analysis-failure testing",
    "android": "kiln builds no Android",
    "apple": "kiln builds nothing for Apple platforms",
    "aqueryout": "kiln's aquery output has a fixed content",
    "aspects": "not supported yet: kiln applies no command-line aspects",
    "aspectsout": "kiln's query output shows no aspects",
    "bep": "kiln writes no Build Event Protocol stream",
    "cc": "kiln has no C/C++ rules",
    "checkoutputs": "kiln checks outputs by digest after every action",
    "cleanasync": "kiln cleans at once",
    "coverage": "kiln does not collect coverage",
    "cpu": "kiln selects by --platforms, not --cpu",
    "credentials": "kiln's downloader uses no credential helpers or Google credentials",
    "devdeps": "not supported yet: kiln reads the root module's dev dependencies",
    "digest": "kiln always uses SHA-256",
    "digests": "kiln re-hashes a file only when its stat stamp changes",
    "docker": "kiln has no Docker sandbox",
    "download": "kiln's downloader has fixed retry, timeout and cache settings",
    "dynamic": "kiln has no dynamic execution",
    "environments": "kiln has no environment() constraints; it uses platforms",
    "exclusive": "not supported yet: exclusive tests run in kiln's sandbox like others",
    "execcfg": "kiln builds tools in the target configuration: there are no exec-configuration edges",
    "execinfo": "not supported yet: kiln takes execution requirements from targets' tags",
    "execlog": "kiln writes no execution log; --explain says why actions ran",
    "expandconfigs": "kiln always expands --config where it stands",
    "explanations": "kiln's --explain always lists what changed",
    "extraactions": "kiln has no extra actions (action_listener)",
    "failfast": "not supported yet: test runners get no fail-fast option",
    "fetchall": "kiln fetches what the targets need",
    "flagalias": "not supported yet: kiln has no flag aliases",
    "flaky": "kiln marks flakiness by --flaky_test_attempts only",
    "gnu": "kiln prints its version in one format",
    "initpy": "not supported yet: kiln's py rules always create missing __init__.py files",
    "java": "kiln builds no Java",
    "lockfile": "kiln does not use MODULE.bazel.lock",
    "makeenv": "kiln's info has no Make environment",
    "memory": "tunes the memory of Bazel's server, which kiln does not have",
    "multiplex": "kiln uses multiplex workers whenever an action supports them",
    "noop": "a no-op in Bazel too",
    "notyet": "not supported by kiln yet",
    "outputdir": "kiln names output directories by a digest of the configuration",
    "outputgroups": "not supported yet: kiln builds each target's default outputs",
    "outroot": "kiln places its output base by --output_base only",
    "overridemodule": "not supported yet: declare the repository in MODULE.bazel",
    "packagepath": "kiln's packages are the workspace's directories",
    "paramfiles": "not supported yet: kiln writes param files only inside sandboxes",
    "platformmappings": "kiln has no platform mappings",
    "profile": "kiln writes no profile or trace",
    "proto": "kiln has no protobuf rules",
    "python": "kiln has no native Python rules to disallow: py_* rules are rules_python's",
    "pythonzip": "kiln builds no Python zip archives",
    "queryout": "kiln's query output has no such setting",
    "quiet": "not supported yet: kiln has no quiet mode",
    "registry": "kiln fetches no module from a Bazel registry",
    "remote": "kiln has no remote cache or remote execution yet",
    "repocontents": "kiln keeps fetched repositories in the output base",
    "repoenv": "repository rules see kiln's environment with --repo_env applied",
    "repomapping": "kiln writes one repo mapping format",
    "resolvedfile": "kiln writes and reads no resolved file",
    "resources": "kiln limits concurrency by --jobs only",
    "runfiles": "runfiles trees are always created",
    "runfilesdata": "a migration switch for Bazel's native rules, which kiln does not have",
    "runfilesext": "runfiles trees always put external repos at the top level",
    "runfileslinks": "kiln always builds runfiles trees and manifests",
    "rununder": "not supported yet: kiln runs tests and programs directly",
    "sandboxblock": "not supported yet: kiln's sandbox hides only undeclared workspace files",
    "sandboxtmp": "every sandboxed action always gets a private /tmp",
    "sandboxtune": "kiln's bubblewrap sandbox has no such setting",
    "scheduler": "kiln schedules actions by --jobs only",
    "scriptpath": "not supported yet: kiln run always runs the program",
    "server": "kiln keeps no server and runs no JVM",
    "sharding": "kiln does not shard tests yet",
    "shell": "not supported yet: kiln runs shell commands with the host's bash",
    "sibling": "kiln's execution root layout is fixed",
    "stamping": "kiln has no workspace status yet",
    "starlark": "selects between Starlark behaviours of Bazel versions; kiln's dialect is fixed",
    "strategies": "kiln chooses how actions run by --spawn_strategy and --strategy",
    "symlinks": "kiln always creates its convenience symlinks (see --symlink_prefix)",
    "systemrc": "kiln never reads a system-wide rc file",
    "testexec": "kiln runs tests on the host in the target configuration",
    "testfilters": "not supported yet: kiln filters tests by tag and size",
    "testjobs": "kiln runs tests as actions under --jobs",
    "testkeepgoing": "not supported yet: kiln runs every test",
    "testoutputlimit": "kiln limits test output by --experimental_ui_max_stdouterr_bytes",
    "testresources": "kiln limits tests by --jobs only",
    "testsuite": "kiln checks test_suite tests as it always does",
    "testtmp": "each test gets a private TEST_TMPDIR in its sandbox",
    "timeouts": "kiln's grace period for a timed-out process is fixed",
    "transitions": "kiln's cquery shows transitions with --output=transitions",
    "trimtest": "tunes Bazel's configuration trimming, which kiln does not do",
    "ui": "kiln's terminal output has its own format",
    "undeclared": "not supported yet: undeclared test outputs stay a directory",
    "universe": "kiln's query has no universe scope",
    "uptodate": "not supported yet",
    "validation": "kiln runs no validation actions yet",
    "verbosefailures": "kiln always shows a failed action's command and output",
    "visibilityerrors": "kiln's visibility errors have one form",
    "watchfs": "kiln checks files by their stat stamps; it watches no file system",
    "windows": "only has an effect on Windows, where kiln does not run",
    "workerlife": "kiln's workers end with each kiln command",
    "workertune": "kiln's worker pool has no such setting",
    "workspace": "kiln reads WORKSPACE whenever there is one (and, with Bzlmod, no WORKSPACE.bzlmod)",
}

CATALOGUE = """\
[startup]
@server
autodetect_server_javabase
batch
batch_cpu_scheduling
client_debug
connect_timeout_secs=
experimental_cgroup_parent=
experimental_run_in_user_cgroup
experimental_use_compact_object_headers
extra_classpath=
failure_detail_out=
host_jvm_args*
host_jvm_debug!
host_jvm_profile=
idle_server_tasks
install_base=
io_nice_level=
local_startup_timeout_secs=
macos_qos_class=
max_idle_secs=
preemptible
server_javabase=
server_jvm_out=
shutdown_on_low_sys_mem
unlimit_coredumps
@digest
digest_function=
@outroot
output_user_root=
@quiet
quiet
@systemrc
system_rc
@windows
windows_enable_symlinks
@expandconfigs
expand_configs_in_place
@watchfs
watchfs
@remote
experimental_remote_repo_contents_cache
@kiln
bazelrc*
block_for_lock
home_rc
ignore_all_rc_files
output_base=
workspace_rc
[common]
@kiln
announce_rc
color=
config*
curses=
disk_cache=
distdir*
enable_bzlmod
enable_platform_specific_config
experimental_disk_cache_gc_max_age=
experimental_disk_cache_gc_max_size=
experimental_ui_max_stdouterr_bytes=
incompatible_disallow_empty_glob
override_module*
override_repository*
repo_env*
repository_cache=
show_progress
@download
experimental_repository_cache_hardlinks
experimental_repository_downloader_retries=
experimental_scale_timeouts=
http_connector_attempts=
http_connector_retry_max_timeout=
http_max_parallel_downloads=
http_timeout_scaling=
repository_disable_download
downloader_config*
@repocontents
repo_contents_cache=
repo_contents_cache_gc_idle_delay=
repo_contents_cache_gc_max_age=
@memory
gc_churning_threshold=
gc_churning_threshold_if_multiple_top_level_targets=
gc_thrashing_threshold=
gc_thrashing_limits=
heuristically_drop_nodes
keep_state_after_build
skyframe_high_water_mark_full_gc_drops_per_invocation=
skyframe_high_water_mark_minor_gc_drops_per_invocation=
skyframe_high_water_mark_threshold=
track_incremental_state
experimental_enable_thread_dump
experimental_thread_dump_action_execution_inactivity_duration=
experimental_thread_dump_interval=
experimental_install_base_gc_max_age=
heap_dump_on_oom
jvm_heap_histogram_internal_object_pattern=
@proto
incompatible_enable_proto_toolchain_resolution
@repoenv
experimental_strict_repo_env
incompatible_repo_env_ignores_action_env
@remote
bep_maximum_open_remote_upload_files=
remote_download_all!
remote_download_minimal!
remote_download_outputs=
remote_download_symlink_template=
remote_download_toplevel!
experimental_circuit_breaker_strategy=
experimental_remote_cache_chunking
experimental_remote_cache_compression_threshold=
experimental_remote_cache_lease_extension
experimental_remote_cache_ttl=
experimental_remote_capture_corrupted_outputs=
experimental_remote_discard_merkle_trees
experimental_remote_failure_rate_threshold=
experimental_remote_failure_window_interval=
experimental_remote_mark_tool_inputs
experimental_remote_output_service=
experimental_remote_output_service_output_path_prefix=
experimental_remote_require_cached
experimental_remote_scrubbing_config=
guard_against_concurrent_changes~
incompatible_remote_local_fallback_for_remote_cache
remote_accept_cached
remote_build_event_upload=
remote_bytestream_uri_prefix=
remote_cache=
remote_cache_async
remote_cache_compression
remote_cache_header*
remote_default_exec_properties*
remote_download_regex*
remote_downloader=
remote_downloader_header*
remote_downloader_local_fallback
remote_downloader_propagate_credentials
remote_exec_header*
remote_execution_priority=
remote_executor=
remote_grpc_log=
remote_header*
remote_instance_name=
remote_local_fallback
remote_local_fallback_strategy=
remote_max_concurrency_per_connection=
remote_max_connections=
remote_print_execution_messages=
remote_proxy=
remote_result_cache_priority=
remote_retries=
remote_retry_max_delay=
remote_timeout=
remote_upload_local_results
remote_verify_downloads
grpc_keepalive_time=
grpc_keepalive_timeout=
grpc_tcp_keepalive
grpc_tcp_keepalive_count=
grpc_tcp_keepalive_interval=
grpc_tcp_keepalive_time=
tls_certificate=
tls_client_certificate=
tls_client_key=
@credentials
credential_helper*
credential_helper_cache_duration=
credential_helper_timeout=
google_auth_scopes=
google_credentials=
google_default_credentials
@starlark
allow_experimental_loads
check_bzl_visibility
incompatible_enforce_starlark_utf8~
experimental_bzl_visibility
experimental_cc_shared_library
experimental_dormant_deps
experimental_enable_android_migration_apis
experimental_enable_first_class_macros
experimental_enable_scl_dialect
experimental_enable_starlark_set
experimental_google_legacy_api
experimental_isolated_extension_usages
experimental_platforms_api
experimental_repo_remote_exec
experimental_repository_ctx_execute_wasm
experimental_repository_ctx_wasm_compilation
experimental_single_package_toolchain_binding
experimental_starlark_dynamic_type_checking
experimental_starlark_static_type_checking
experimental_starlark_type_checking!
experimental_starlark_type_syntax
experimental_starlark_types_allowed_paths=
experimental_rule_extension_api
force_starlark_stack_trace
incompatible_allow_tags_propagation
incompatible_always_check_depset_elements
incompatible_check_external_repo_source_dir_package_boundary
incompatible_disable_objc_library_transition
incompatible_disable_starlark_host_transitions
incompatible_disable_target_default_provider_fields
incompatible_disable_transitions_on=
incompatible_disallow_ctx_resolve_tools
incompatible_enable_deprecated_label_apis
incompatible_fail_on_unknown_attributes
incompatible_fix_package_group_reporoot_syntax
incompatible_locations_prefers_executable
incompatible_no_attr_license
incompatible_no_implicit_file_export
incompatible_no_implicit_watch_label
incompatible_no_rule_outputs_param
incompatible_package_group_has_public_syntax
incompatible_require_mnemonic_for_run_actions
incompatible_resolve_select_keys_eagerly
incompatible_run_shell_command_string
incompatible_simplify_unconditional_selects_in_rule_attrs
incompatible_stop_exporting_build_file_path
incompatible_unambiguous_label_stringification
max_computation_steps=
nested_set_depth_limit=
@sibling
experimental_sibling_repository_layout
@registry
allow_yanked_versions*
check_bazel_compatibility=
check_direct_dependencies=
module_mirrors*
registry*
vendor_dir=
@devdeps
ignore_dev_dependency
@overridemodule
inject_repository*
@cc
incompatible_do_not_split_linking_cmdline
@java
incompatible_disable_non_executable_java_binary
@bep
bes_backend=
bes_check_preceding_lifecycle_events
bes_header*
bes_instance_name=
bes_keywords*
bes_lifecycle_events
bes_oom_finish_upload_timeout=
bes_outerr_buffer_size=
bes_outerr_chunk_size=
bes_proxy=
bes_results_url=
bes_system_keywords*
bes_timeout=
bes_upload_mode=
build_event_binary_file=
build_event_binary_file_path_conversion
build_event_binary_file_upload_mode=
build_event_json_file=
build_event_json_file_path_conversion
build_event_json_file_upload_mode=
build_event_max_named_set_of_file_entries=
build_event_publish_all_actions
build_event_text_file=
build_event_text_file_path_conversion
build_event_text_file_upload_mode=
build_event_upload_max_retries=
experimental_bep_target_summary
experimental_build_event_expand_filesets
experimental_build_event_output_group_mode*
experimental_build_event_upload_retry_minimum_delay=
experimental_build_event_upload_strategy=
experimental_record_metrics_for_all_mnemonics
experimental_record_skyframe_metrics
experimental_run_bep_event_include_residue
experimental_stream_log_file_uploads
legacy_important_outputs
build_metadata*
invocation_id=
tool_tag=
@profile
experimental_collect_load_average_in_profiler
experimental_collect_pressure_stall_indicators
experimental_collect_resource_estimation
experimental_collect_skyframe_counts_in_profiler
experimental_collect_system_network_usage
experimental_collect_worker_data_in_profiler
experimental_command_profile=
experimental_profile_additional_tasks*
experimental_profile_include_primary_output
experimental_profile_include_target_configuration
experimental_profile_include_target_label
experimental_workspace_rules_log_file=
generate_json_trace_profile?
memory_profile=
memory_profile_stable_heap_parameters=
profile=
profiles_to_retain=
record_full_profiler_data
redirect_local_instrumentation_output_writes
slim_profile~
starlark_cpu_profile=
write_command_log
logging=
@ui
attempt_to_print_relative_paths
ui_event_filters*
progress_in_terminal_title
show_progress_rate_limit=
ui_actions_shown=
@actioncache
experimental_action_cache_gc_idle_delay=
experimental_action_cache_gc_max_age=
experimental_action_cache_gc_threshold=
experimental_disk_cache_gc_idle_delay=
@watchfs
watchfs
experimental_windows_watchfs
@lockfile
lockfile_mode=
@ui
show_timestamps
@workspace
enable_workspace
@runfilesext
legacy_external_runfiles
@starlark
experimental_allow_tags_propagation
experimental_action_resource_set
experimental_analysis_test_call
experimental_disable_external_package
experimental_get_fixed_configured_action_env
experimental_lazy_template_expansion
experimental_allow_top_level_aspects_parameters
incompatible_disable_native_repo_rules
incompatible_use_plus_in_repo_names
incompatible_autoload_externally=
repositories_without_autoloads*
incompatible_disallow_struct_provider_syntax
incompatible_existing_rules_immutable_view
incompatible_stop_exporting_language_modules
incompatible_visibility_private_attributes_at_definition
incompatible_top_level_aspects_require_providers
incompatible_new_actions_api
incompatible_struct_has_no_methods
incompatible_require_linker_input_cc_api
incompatible_java_common_parameters
incompatible_disallow_legacy_javainfo
incompatible_depset_for_libraries_to_link_getter
incompatible_disable_target_provider_fields
incompatible_use_cc_configure_from_rules_cc
@download
experimental_repository_cache_urls_as_default_canonical_id
experimental_repository_disable_download
experimental_downloader_config=
experimental_worker_for_repo_fetching=
@resolvedfile
experimental_repository_resolved_file=
experimental_resolved_file_instead_of_workspace=
[build test run query cquery aquery fetch clean info]
@kiln
action_env*
compilation_mode= -c
extra_execution_platforms=
extra_toolchains*
host_platform=
platforms=
@coverage
experimental_split_coverage_postprocessing
collect_code_coverage
coverage_output_generator=
coverage_report_generator=
coverage_support=
@remote
experimental_remotable_source_manifests
@execinfo
incompatible_modify_execution_info_additive
modify_execution_info*
@android
persistent_android_dex_desugar!
persistent_android_resource_processor!
persistent_multiplex_android_dex_desugar!
persistent_multiplex_android_resource_processor!
persistent_multiplex_android_tools!
android_compiler=
android_manifest_merger=
android_platforms=
android_dynamic_mode=
android_manifest_merger_order=
android_resource_shrinking
@testexec
use_target_platform_for_tests
incompatible_bazel_test_exec_run_under
@cc
cc_output_directory_tag=
compiler=
custom_malloc=
grte_top=
host_compiler=
host_grte_top=
incompatible_dont_enable_host_nonhost_crosstool_features
incompatible_remove_legacy_whole_archive
incompatible_strip_executable_safely
interface_shared_objects
build_test_dwp
experimental_save_feature_state
fission=
save_temps
conlyopt*
copt*
cs_fdo_absolute_path=
@apple
experimental_include_xcode_execution_requirements
experimental_prefer_mutual_xcode
minimum_os_version=
xcode_version=
xcode_version_config=
incompatible_builtin_objc_strip_action
apple_generate_dsym
objc_generate_linkmap
@platformmappings
platform_mappings=
@runfileslinks
build_runfile_links
build_runfile_manifests
@proto
cc_proto_library_header_suffixes=
cc_proto_library_source_suffixes=
experimental_proto_descriptor_sets_include_source_info
@runfilesdata
incompatible_always_include_files_in_data
incompatible_filegroup_runfiles_for_data
@repomapping
incompatible_compact_repo_mapping_manifest
@starlark
incompatible_disable_select_on=
@cpu
allowed_cpu_values=
cpu=
@kiln
define*
stamp
check_visibility
toolchain_resolution_debug=
@cc
cs_fdo_instrument=
cs_fdo_profile=
cxxopt*
dynamic_mode=
enable_propeller_optimize_absolute_paths
enable_remaining_fdo_absolute_paths
experimental_omitfp
fdo_instrument=
fdo_optimize=
fdo_prefetch_hints=
fdo_profile=
features*
force_pic
host_conlyopt*
host_copt*
host_cxxopt*
host_features*
host_linkopt*
host_per_file_copt*
linkopt*
ltobackendopt*
ltoindexopt*
memprof_profile=
per_file_copt*
per_file_ltobackendopt*
propeller_optimize=
propeller_optimize_absolute_cc_profile=
propeller_optimize_absolute_ld_profile=
share_native_deps
strip=
stripopt*
xbinary_fdo=
strict_system_includes
cc_dotd_files
cc_include_scanning
experimental_inmemory_dotd_files
experimental_unsupported_and_brittle_include_scanning
process_headers_in_dependencies
@runfiles
enable_runfiles?
@aspects
exec_aspects*
@extraactions
experimental_action_listener*
@android
experimental_android_compress_java_resources
experimental_android_resource_shrinking
desugar_for_android
desugar_java8_libs
apk_signing_method=
legacy_main_dex_list_generator=
optimizing_dexer=
experimental_run_android_lint_on_java_rules
@coverage
experimental_collect_code_coverage_for_generated_files
instrument_test_targets
instrumentation_filter=
experimental_fetch_all_coverage_outputs
experimental_use_llvm_covmap
experimental_generate_llvm_lcov
@outputdir
experimental_output_paths=
experimental_override_platform_cpu_name*
experimental_platform_in_output_dir?
experimental_use_platforms_in_output_dir_legacy_heuristic
platform_suffix=
incompatible_merge_genfiles_directory
@execcfg
host_action_env*
host_compilation_mode=
@cpu
host_cpu=
incompatible_target_cpu_from_platform
@apple
host_macos_minimum_os=
ios_minimum_os=
ios_multi_cpus*
macos_cpus*
macos_minimum_os=
objc_enable_binary_stripping
objccopt*
tvos_cpus*
tvos_minimum_os=
visionos_cpus*
watchos_cpus*
watchos_minimum_os=
device_debug_entitlements
incompatible_disallow_sdk_frameworks_attributes
incompatible_objc_alwayslink_by_default
objc_use_dotd_pruning
@starlark
incompatible_auto_exec_groups
experimental_enforce_transitive_visibility
@rununder
run_under=
@environments
enforce_constraints
target_environment*
@java
experimental_one_version_enforcement=
experimental_strict_java_deps=
one_version_enforcement_on_java_tests
experimental_inmemory_jdeps_files
experimental_java_classpath=
experimental_turbine_cpu_reservation=
explicit_java_test_deps
host_java_launcher=
host_javacopt*
host_jvmopt*
java_debug!
java_deps
java_header_compilation
java_language_version=
java_launcher=
java_runtime_version=
javacopt*
jvmopt*
plugin*
proguard_top=
tool_java_language_version=
tool_java_runtime_version=
use_ijars
@proto
strict_proto_deps=
strict_public_imports=
proto_compiler=
proto_profile
proto_profile_path=
proto_toolchain_for_cc=
proto_toolchain_for_java=
proto_toolchain_for_javalite=
protocopt*
@analysistest
allow_analysis_failures
analysis_testing_deps_limit=
@testresources
default_test_resources*
@undeclared
zip_undeclared_test_outputs
@trimtest
experimental_retain_test_configuration_across_testonly
trim_test_configuration
@flaky
experimental_cancel_concurrent_tests~
runs_per_test_detects_flakes
@failfast
test_runner_fail_fast
@sharding
test_sharding_strategy=
@exclusive
incompatible_exclusive_test_sandboxed
@visibilityerrors
verbose_visibility_errors
@flagalias
flag_alias*
@actionenv
incompatible_strict_action_env
@shell
shell_executable=
@scheduler
allow_one_action_on_resource_unavailable
experimental_async_execution
experimental_async_execution_max_concurrent_actions=
@strategies
allowed_strategies_by_exec_platform*
@uptodate
check_up_to_date
@dynamic
dynamic_local_execution_delay=
dynamic_local_strategy*
dynamic_remote_strategy*
experimental_dynamic_exclude_tools
experimental_dynamic_local_load_factor=
experimental_dynamic_slow_remote_time=
@docker
experimental_docker_image=
experimental_docker_use_customized_images
experimental_enable_docker_sandbox
@sandboxtune
experimental_inmemory_sandbox_stashes
experimental_sandbox_async_tree_delete_idle_threads=
experimental_sandbox_enforce_resources_regexp=
experimental_sandbox_limits*
experimental_sandbox_memory_limit_mb=
@windows
experimental_use_windows_sandbox?
experimental_windows_sandbox_path=
@workertune
experimental_shrink_worker_pool
experimental_total_worker_memory_limit_mb=
experimental_worker_allowlist=
experimental_worker_cancellation
experimental_worker_memory_limit_mb=
experimental_worker_metrics_poll_interval=
experimental_worker_sandbox_hardening
experimental_worker_sandbox_inmemory_tracking*
experimental_worker_strict_flagfiles
@kiln
experimental_use_hermetic_linux_sandbox
experimental_worker_multiplex_sandboxing
@kiln
runs_per_test*
test_env*
test_timeout=
cache_test_results? -t
test_arg*
test_filter=
@kiln
flaky_test_attempts*
test_output=
build_tests_only
test_size_filters=
test_tag_filters=
@uptodate
check_tests_up_to_date
@testjobs
local_test_jobs=
@testkeepgoing
test_keep_going
@strategies
test_strategy=
@testtmp
test_tmpdir=
@testoutputlimit
max_test_output_bytes=
@ui
test_summary=
@kiln
jobs= -j
keep_going -k
sandbox_tmpfs_path*
spawn_strategy=
strategy*
worker_extra_flag*
worker_max_instances*
worker_max_multiplex_instances*
worker_sandboxing
symlink_prefix=
sandbox_add_mount_pair*
sandbox_default_allow_network
sandbox_writable_path*
explain=
sandbox_debug
subcommands -s
build_tag_filters=
@strategies
genrule_strategy=
strategy_regexp*
@dynamic
internal_spawn_scheduler
experimental_dynamic_ignore_local_signals=
debug_spawn_scheduler
experimental_spawn_scheduler!
@scheduler
loading_phase_threads=
experimental_cpu_load_scheduling
@resources
local_resources*
@sandboxtune
reuse_sandbox_directories
sandbox_base=
sandbox_enable_loopback_device
sandbox_explicit_pseudoterminal
sandbox_fake_hostname
sandbox_fake_username
@sandboxblock
sandbox_block_path*
@notyet
skip_incompatible_explicit_targets
build
target_pattern_file=
build_manual_tests
compile_one_dependency
deleted_packages*
expand_test_suites
fetch
@multiplex
worker_multiplex
@workerlife
worker_quit_after_build
@ui
worker_verbose
expand_param_files
max_config_changes_to_show=
output_filter=
progress_report_interval=
show_result=
auto_output_filter=
show_loading_progress
@validation
experimental_use_validation_aspect
run_validations
@outputgroups
output_groups*
@profile
serialized_frontier_profile=
@aspects
aspects*
aspects_parameters*
@symlinks
experimental_convenience_symlinks~
@bep
experimental_convenience_symlinks_bep_event
@docker
experimental_docker_privileged
experimental_docker_verbose
@noop
experimental_sandboxfs_map_symlink_targets
@starlark
incompatible_config_setting_private_default_visibility
incompatible_enforce_config_setting_visibility
@digests
cache_computed_file_digests=
@memory
experimental_active_directories=
experimental_enable_skyfocus
experimental_frontier_violation_check=
experimental_frontier_violation_verbose
experimental_skyfocus_dump_keys=
experimental_skyfocus_dump_post_gc_stats
allow_analysis_cache_discard
discard_analysis_cache
@paramfiles
experimental_materialize_param_files_directly
materialize_param_files
@verbosefailures
verbose_failures
@remote
experimental_remote_cache_eviction_retries=
rewind_lost_inputs
@coverage
combined_report=
@stamping
embed_label=
workspace_status_command=
@execlog
execution_log_binary_file~
execution_log_compact_file~
execution_log_json_file~
execution_log_mnemonic_filter=
execution_log_sort
@extraactions
experimental_extra_action_filter=
experimental_extra_action_top_level_only
@timeouts
local_termination_grace_seconds=
@packagepath
package_path=
@testfilters
test_lang_filters=
test_timeout_filters=
@cc
incompatible_enable_cc_toolchain_resolution
@java
java_toolchain=
host_java_toolchain=
@sandboxtmp
incompatible_sandbox_hermetic_tmp
@explanations
verbose_explanations
@checkoutputs
experimental_check_output_files
@python
incompatible_python_disallow_native_rules
experimental_python_import_all_repositories
@initpy
incompatible_default_to_explicit_init_py
@pythonzip
build_python_zip?
@remote
experimental_remote_merkle_tree_cache
experimental_remote_merkle_tree_cache_size=
experimental_remote_cache_async
experimental_guard_against_concurrent_changes
experimental_remote_downloader=
experimental_remote_build_event_upload=
incompatible_remote_results_ignore_disk
incompatible_remote_build_event_upload_respect_no_cache
incompatible_remote_downloader_send_all_headers
@sandboxtune
experimental_reuse_sandbox_directories
@notyet
experimental_writable_outputs
@starlark
incompatible_disallow_unsound_directory_outputs
incompatible_merge_fixed_and_default_shell_env
allow_unresolved_symlinks
experimental_allow_unresolved_symlinks
@cc
incompatible_use_host_features
@android
incompatible_enable_android_toolchain_resolution
@apple
incompatible_enable_apple_toolchain_resolution
@outputdir
experimental_output_directory_naming_scheme=
[query cquery aquery]
@kiln
implicit_deps
output=
@queryout
aspect_deps=
consistent_labels
graph:factored
graph:node_limit=
line_terminator_null
nodep_deps
output_file=
proto:default_values
proto:definition_stack
proto:flatten_selects
proto:include_attribute_source_aspects
proto:include_starlark_rule_env
proto:include_synthetic_attribute_hash
proto:instantiation_stack
proto:locations
proto:output_rule_attrs=
proto:rule_classes
proto:rule_inputs_and_outputs
query_file=
relative_locations
incompatible_package_group_build_output
incompatible_package_group_includes_double_slash
@universe
infer_universe_scope
universe_scope=
@execcfg
tool_deps
[aquery cquery]
@aspectsout
experimental_explicit_aspects
include_aspects
[aquery]
@aqueryout
include_artifacts
include_commandline
include_file_write_contents
include_param_files
include_pruned_inputs
skyframe_state
[query]
@kiln
order_output=
@queryout
xml:default_values
xml:line_numbers
deduplicate_depsets
experimental_graphless_query?
@testsuite
strict_test_suite
[cquery]
@queryout
show_config_fragments=
starlark:expr=
starlark:file=
proto:include_configurations
@transitions
transitions=
[clean]
@kiln
expunge
@cleanasync
async
expunge_async!
[fetch]
@fetchall
all
configure
force
repo*
[info]
@makeenv
show_make_env
[test]
@ui
test_verbose_timeout_warnings
print_relative_test_log_paths
verbose_test_summary
[run]
@scriptpath
script_path=
[version]
@gnu
gnu_format
"""
