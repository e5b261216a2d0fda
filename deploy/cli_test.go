package deploy_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The command line the artefacts use (container args, the image's CMD,
// docker compose commands) is checked against graphsoar's command line as
// its source declares it: cmd/graphsoar is parsed (go/parser, nothing is
// imported or built) for the cobra.Command literals, whose Use names the
// subcommand, and for the pflag registrations (fs.StringVar(&v, "name", ...),
// fs.Bool("name", ...)) made in the function that builds each command or in
// the helpers it calls (commonFlags.register). A flag registered in a way the
// parser does not follow (a name that is not a string literal) shows up as
// an unknown flag here: teach graphsoarCLI the new form rather than listing
// flags by hand.

// command is one graphsoar subcommand.
type command struct {
	name   string
	noArgs bool              // Args: cobra.NoArgs
	flags  map[string]bool   // flag name -> takes no value (a bool flag)
	short  map[byte]string   // shorthand -> flag name
	where  map[string]string // flag name -> file:line, for messages
}

// cli is graphsoar's command line.
type cli struct {
	cmds map[string]*command // by subcommand name
	// getenv are the variables the commands read with getenv("NAME") besides
	// the GRAPHSOAR_<FLAG> of every flag.
	getenv map[string]bool
}

var (
	cliOnce   sync.Once
	cliParsed *cli
	cliErr    error
)

// graphsoarCLI parses cmd/graphsoar once.
func graphsoarCLI(t *testing.T) *cli {
	t.Helper()
	cliOnce.Do(func() { cliParsed, cliErr = parseCLI(filepath.Join(repo, "cmd", "graphsoar")) })
	if cliErr != nil {
		t.Fatalf("reading graphsoar's command line from cmd/graphsoar: %v", cliErr)
	}
	return cliParsed
}

// flagMethod matches pflag's registration methods; the flag name is the
// first argument of String("name", ...) and the second of
// StringVar(&v, "name", ...) and Var(value, "name", ...).
var flagMethod = regexp.MustCompile(`^(Bool|BoolSlice|BoolFunc|BytesBase64|BytesHex|Count|Duration|DurationSlice|Float32|Float32Slice|Float64|Float64Slice|Func|Int|Int8|Int16|Int32|Int64|IntSlice|Int32Slice|Int64Slice|IP|IPMask|IPNet|IPSlice|String|StringArray|StringSlice|StringToInt|StringToInt64|StringToString|Text|Time|Uint|Uint8|Uint16|Uint32|Uint64|UintSlice|)(Var)?(P)?$`)

var flagName = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

func parseCLI(dir string) (*cli, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	funcs := map[string][]*ast.FuncDecl{} // functions and methods, by name
	var decls []*ast.FuncDecl
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				funcs[fd.Name.Name] = append(funcs[fd.Name.Name], fd)
				decls = append(decls, fd)
			}
		}
	}
	out := &cli{cmds: map[string]*command{}, getenv: map[string]bool{}}
	for _, fd := range decls {
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && len(call.Args) == 1 {
				if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "getenv" {
					if s, ok := stringLit(call.Args[0]); ok {
						out.getenv[s] = true
					}
				}
			}
			return true
		})
		cmds := cobraCommands(fd)
		if len(cmds) == 0 {
			continue
		}
		c := &command{flags: map[string]bool{"help": true}, short: map[byte]string{'h': "help"}, where: map[string]string{}}
		seen := map[*ast.FuncDecl]bool{}
		if err := collectFlags(fset, fd, funcs, seen, c); err != nil {
			return nil, err
		}
		for _, lit := range cmds {
			use, noArgs := commandLiteral(lit)
			if use == "" || use == "graphsoar" {
				continue
			}
			cc := *c
			cc.name, cc.noArgs = use, noArgs
			out.cmds[use] = &cc
		}
	}
	for _, want := range []string{"run", "poll", "graph-emulator"} {
		if out.cmds[want] == nil {
			return nil, fmt.Errorf("no %q command found (commands: %v)", want, out.names())
		}
	}
	return out, nil
}

func (c *cli) names() []string {
	var n []string
	for k := range c.cmds {
		n = append(n, k)
	}
	slices.Sort(n)
	return n
}

// cobraCommands finds the &cobra.Command{...} literals in a function.
func cobraCommands(fd *ast.FuncDecl) []*ast.CompositeLit {
	var lits []*ast.CompositeLit
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		if lit, ok := n.(*ast.CompositeLit); ok {
			if sel, ok := lit.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Command" {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == "cobra" {
					lits = append(lits, lit)
				}
			}
		}
		return true
	})
	return lits
}

// commandLiteral reads Use (its first word) and whether Args is cobra.NoArgs.
func commandLiteral(lit *ast.CompositeLit) (use string, noArgs bool) {
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		key, ok := kv.Key.(*ast.Ident)
		if !ok {
			continue
		}
		switch key.Name {
		case "Use":
			if bl, ok := kv.Value.(*ast.BasicLit); ok && bl.Kind == token.STRING {
				s, _ := strconv.Unquote(bl.Value)
				if f := strings.Fields(s); len(f) > 0 {
					use = f[0]
				}
			}
		case "Args":
			if sel, ok := kv.Value.(*ast.SelectorExpr); ok && sel.Sel.Name == "NoArgs" {
				noArgs = true
			}
		}
	}
	return use, noArgs
}

// collectFlags adds the flags a function registers, following calls to the
// package's own functions and methods (but not into other commands'
// constructors).
func collectFlags(fset *token.FileSet, fd *ast.FuncDecl, funcs map[string][]*ast.FuncDecl, seen map[*ast.FuncDecl]bool, c *command) error {
	if seen[fd] {
		return nil
	}
	seen[fd] = true
	var err error
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || err != nil {
			return err == nil
		}
		var name string
		switch fn := call.Fun.(type) {
		case *ast.SelectorExpr:
			name = fn.Sel.Name
		case *ast.Ident:
			name = fn.Name
		default:
			return true
		}
		if m := flagMethod.FindStringSubmatch(name); m != nil && len(call.Args) >= 2 {
			if _, isSel := call.Fun.(*ast.SelectorExpr); isSel {
				if m[1] == "" && m[2] == "" {
					return true // P(...): not a registration
				}
				idx := 0
				if m[2] == "Var" {
					idx = 1 // StringVar(&v, "name", ...), Var(value, "name", ...)
				}
				if s, ok := stringLit(call.Args[idx]); ok && flagName.MatchString(s) {
					c.flags[s] = m[1] == "Bool" || m[1] == "BoolFunc" || m[1] == "Count"
					c.where[s] = fset.Position(call.Pos()).String()
					if m[3] == "P" && len(call.Args) > idx+1 {
						if sh, ok := stringLit(call.Args[idx+1]); ok && len(sh) == 1 {
							c.short[sh[0]] = s
						}
					}
				}
			}
			return true
		}
		for _, callee := range funcs[name] {
			if len(cobraCommands(callee)) > 0 {
				continue
			}
			if err = collectFlags(fset, callee, funcs, seen, c); err != nil {
				return false
			}
		}
		return true
	})
	return err
}

func stringLit(e ast.Expr) (string, bool) {
	bl, ok := e.(*ast.BasicLit)
	if !ok || bl.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(bl.Value)
	return s, err == nil
}

// envName is the variable of a flag (cmd/graphsoar/root.go's envName).
func envName(flag string) string {
	return "GRAPHSOAR_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// knowsEnv reports whether a GRAPHSOAR_* variable means something to a
// subcommand: a flag's variable, or one read with getenv.
func (c *cli) knowsEnv(command, name string) bool {
	if c.getenv[name] {
		return true
	}
	for f := range c.cmds[command].flags {
		if f != "help" && envName(f) == name {
			return true
		}
	}
	return false
}

// invocation is a parsed graphsoar command line.
type invocation struct {
	command string
	flags   map[string]string // flag -> last value ("true" for bool flags)
	repeats map[string][]string
}

// parseArgs checks a graphsoar command line (without the binary's name)
// against the source: a known subcommand, known flags, a value for each flag
// that takes one, no positional arguments where the command takes none.
func (c *cli) parseArgs(args []string) (invocation, error) {
	inv := invocation{flags: map[string]string{}, repeats: map[string][]string{}}
	if len(args) == 0 {
		return inv, fmt.Errorf("no subcommand")
	}
	cmd := c.cmds[args[0]]
	if cmd == nil {
		return inv, fmt.Errorf("unknown subcommand %q (graphsoar has %v)", args[0], c.names())
	}
	inv.command = cmd.name
	set := func(name, value string) {
		inv.flags[name] = value
		inv.repeats[name] = append(inv.repeats[name], value)
	}
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			if cmd.noArgs && i+1 < len(args) {
				return inv, fmt.Errorf("%s takes no arguments, got %q", cmd.name, args[i+1:])
			}
			return inv, nil
		case strings.HasPrefix(a, "--"):
			name, value, hasValue := strings.Cut(a[2:], "=")
			isBool, ok := cmd.flags[name]
			if !ok {
				return inv, fmt.Errorf("graphsoar %s has no flag --%s", cmd.name, name)
			}
			switch {
			case hasValue:
			case isBool:
				value = "true"
			case i+1 < len(args):
				i++
				value = args[i]
			default:
				return inv, fmt.Errorf("--%s needs a value", name)
			}
			set(name, value)
		case strings.HasPrefix(a, "-") && len(a) > 1:
			name, ok := cmd.short[a[1]]
			if !ok || len(a) > 2 {
				return inv, fmt.Errorf("graphsoar %s: unknown or combined shorthand %q", cmd.name, a)
			}
			if cmd.flags[name] {
				set(name, "true")
			} else if i+1 < len(args) {
				i++
				set(name, args[i])
			} else {
				return inv, fmt.Errorf("%s needs a value", a)
			}
		default:
			if cmd.noArgs {
				return inv, fmt.Errorf("graphsoar %s takes no arguments, got %q", cmd.name, a)
			}
		}
	}
	return inv, nil
}

// TestCLIParser keeps the parser honest: the flags every artefact relies on
// are found where flags.go, run.go, poll.go and emulator.go declare them.
func TestCLIParser(t *testing.T) {
	c := graphsoarCLI(t)
	for cmd, flags := range map[string][]string{
		"run":            {"config", "rules", "listen", "nats-url", "graph-url", "auth", "no-create", "dry-run"},
		"poll":           {"config", "listen", "nats-url", "graph-url", "auth", "tenant", "since", "once"},
		"graph-emulator": {"listen", "open", "seed"},
	} {
		for _, f := range flags {
			if _, ok := c.cmds[cmd].flags[f]; !ok {
				t.Errorf("graphsoar %s: flag --%s not found by the parser", cmd, f)
			}
		}
	}
	if !c.cmds["run"].flags["no-create"] || c.cmds["run"].flags["config"] {
		t.Errorf("run: --no-create should be a bool flag and --config not")
	}
	if _, err := c.parseArgs([]string{"run", "--no-such-flag"}); err == nil {
		t.Error("an unknown flag was accepted")
	}
	if _, err := c.parseArgs([]string{"run", "extra"}); err == nil {
		t.Error("a positional argument to run was accepted")
	}
	if _, err := c.parseArgs([]string{"nosuchcommand"}); err == nil {
		t.Error("an unknown subcommand was accepted")
	}
	if !c.getenv["GRAPHSOAR_CLIENT_SECRET"] {
		t.Errorf("getenv(\"GRAPHSOAR_CLIENT_SECRET\") of flags.go not found: %v", c.getenv)
	}
	inv, err := c.parseArgs([]string{"poll", "--tenant", "a", "--tenant=b", "--once", "--config", "x"})
	if err != nil || inv.flags["config"] != "x" || len(inv.repeats["tenant"]) != 2 || inv.flags["once"] != "true" {
		t.Errorf("parseArgs: %+v, %v", inv, err)
	}
}
