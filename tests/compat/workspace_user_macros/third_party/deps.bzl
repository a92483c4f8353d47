"""The workspace's dependencies, as a WORKSPACE macro declares them."""

load("@bazel_tools//tools/build_defs/repo:http.bzl", "http_archive")
load("@bazel_tools//tools/build_defs/repo:utils.bzl", "maybe")

def my_deps(*, with_tools = True):
    """Declares the rule sets and the local tools repository.

    Args:
      with_tools: whether to declare @my_tools.
    """
    maybe(
        http_archive,
        name = "rules_python",
        sha256 = "c68bdc4fbec25de5b5493b8819cfc877c4ea299c0dcb15c244c5a00208cde311",
        strip_prefix = "rules_python-0.31.0",
        url = "https://github.com/bazelbuild/rules_python/releases/download/0.31.0/rules_python-0.31.0.tar.gz",
    )

    # Fetched only if a build needs it: none of this workspace's targets does.
    maybe(
        http_archive,
        name = "zlib",
        build_file_content = 'cc_library(name = "zlib", srcs = glob(["*.c"]), hdrs = glob(["*.h"]))',
        sha256 = "9a93b2b7dfdac77ceba5a558a580e74667dd6fede4585b91eefb60f03b72df23",
        strip_prefix = "zlib-1.3.1",
        urls = ["https://github.com/madler/zlib/releases/download/v1.3.1/zlib-1.3.1.tar.gz"],
    )

    # A second declaration of the same name is skipped, as maybe() promises.
    maybe(http_archive, name = "zlib", urls = ["https://example.invalid/zlib.tar.gz"])

    if with_tools and not native.existing_rule("my_tools"):
        native.local_repository(
            name = "my_tools",
            path = "third_party/my_tools",
        )
