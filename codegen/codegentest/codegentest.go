// Package codegentest compiles and runs generated tracking code in tests:
// TypeScript with the compiler, analytics-node, analytics-next and Node's
// types pinned in codegen/testdata/ts (installed by `npm ci` there, which
// `make test` and CI run), and Go in a temporary module that requires the
// analytics-go version this repository uses.
//
// A test that needs Node or the npm packages skips where they are missing,
// and fails under CI=true, where they must be installed.
package codegentest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
	"time"

	"github.com/trackplan/trackplan/codegen"
)

// root is the repository's root directory.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// NodeProject is the npm project of the TypeScript tests.
func NodeProject() string { return filepath.Join(root(), "codegen", "testdata", "ts") }

// RequireNode returns the node binary and the npm project's node_modules
// directory, or skips the test when either is missing (and fails it under
// CI=true).
func RequireNode(t testing.TB) (node, modules string) {
	t.Helper()
	missing := func(what string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s; CI must install it (npm ci --prefix codegen/testdata/ts, which make test runs)", what)
		}
		t.Skipf("%s; the TypeScript codegen tests run where it is (make test installs it)", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	modules = filepath.Join(NodeProject(), "node_modules")
	for _, pkg := range []string{"typescript", "@segment/analytics-node", "@segment/analytics-next", "@types/node"} {
		if _, err := os.Stat(filepath.Join(modules, pkg, "package.json")); err != nil {
			missing("the npm package " + pkg + " is not installed")
		}
	}
	return node, modules
}

// TSConfig is the tsconfig.json of a TypeScript project: strict and the
// strictest checks beyond it (the generated code must compile in projects
// that turn them on), CommonJS for Node, output in dist/.
const TSConfig = `{
  "compilerOptions": {
    "strict": true,
    "noUnusedLocals": true,
    "noUnusedParameters": true,
    "exactOptionalPropertyTypes": true,
    "noUncheckedIndexedAccess": true,
    "noImplicitReturns": true,
    "noImplicitOverride": true,
    "noPropertyAccessFromIndexSignature": true,
    "target": "es2020",
    "module": "commonjs",
    "moduleResolution": "node",
    "types": ["node"],
    "outDir": "dist",
    "skipLibCheck": true
  }
}
`

// TSProject writes files and a tsconfig.json into a new temporary
// directory whose node_modules is the npm project's, and returns it.
func TSProject(t testing.TB, files ...codegen.File) string {
	t.Helper()
	_, modules := RequireNode(t)
	dir := t.TempDir()
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	files = append(files, codegen.File{Name: "tsconfig.json", Data: []byte(TSConfig)})
	WriteFiles(t, dir, files...)
	return dir
}

// TSC compiles the project in dir with tsc and returns its output.
func TSC(t testing.TB, dir string) (string, error) {
	t.Helper()
	node, modules := RequireNode(t)
	return Run(t, dir, nil, node, filepath.Join(modules, "typescript", "bin", "tsc"), "-p", dir)
}

// WriteFiles writes files into dir, making the directories their names
// hold.
func WriteFiles(t testing.TB, dir string, files ...codegen.File) {
	t.Helper()
	for _, f := range files {
		path := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Run runs a command in dir with env added to the environment, and
// returns its combined output.
func Run(t testing.TB, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// GoModulePath is the module path of the temporary Go modules.
const GoModulePath = "example.com/tracked"

// GoModule writes files into a new temporary Go module that requires the
// analytics-go version of this repository (with its go.sum), and returns
// its directory.
func GoModule(t testing.TB, files ...codegen.File) string {
	t.Helper()
	mod, err := os.ReadFile(filepath.Join(root(), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github\.com/segmentio/analytics-go/v3 (v\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod does not require analytics-go")
	}
	sum, err := os.ReadFile(filepath.Join(root(), "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := fmt.Sprintf("module %s\n\ngo 1.22\n\nrequire github.com/segmentio/analytics-go/v3 %s\n", GoModulePath, m[1])
	files = append(files, codegen.File{Name: "go.mod", Data: []byte(gomod)}, codegen.File{Name: "go.sum", Data: sum})
	WriteFiles(t, dir, files...)
	return dir
}

// Go runs the go command in a module made by GoModule: module mode, no
// workspace, missing requirements resolved (from the module cache when it
// holds them).
func Go(t testing.TB, dir string, args ...string) (string, error) {
	t.Helper()
	return Run(t, dir, []string{"GOFLAGS=-mod=mod", "GOWORK=off"}, "go", args...)
}
