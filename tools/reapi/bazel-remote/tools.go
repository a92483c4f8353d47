//go:build tools

package tools

import _ "github.com/buchgr/bazel-remote/v2"
