"""The include directions between src/ folders (scripts/check-layering, the
matrix in docs/architecture.md): the tree passes, and an upward include added
to a copy of it fails with the file, the line and the two folders."""
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from cslib import SOURCE_DIR, TempDir, main

SCRIPT = os.path.join(SOURCE_DIR, "scripts", "check-layering")


def run(tree):
    return subprocess.run([sys.executable, SCRIPT, tree], capture_output=True, text=True,
                          timeout=60)


BUILD_DIR = os.environ.get("CS_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))


def symbols(obj):
    """(defined, undefined) global symbols of an object file."""
    out = subprocess.run(["nm", "-g", obj], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
        elif len(parts) == 3:
            defined.add(parts[2])
    return defined, undefined


class CoreLinks(unittest.TestCase):
    def test_core_objects_need_nothing_above_core(self):
        # The ground floor links nothing of the components: every cs_ symbol
        # a core object uses is defined by a core object.
        # (the library's sources compile in the object library chainscope_obj)
        objdir = os.path.join(BUILD_DIR, "CMakeFiles", "chainscope_obj.dir", "src", "core")
        objs = [os.path.join(objdir, n) for n in sorted(os.listdir(objdir)) if n.endswith(".o")]
        self.assertGreater(len(objs), 5)
        defined, undefined = set(), {}
        for o in objs:
            d, u = symbols(o)
            defined |= d
            for sym in u:
                undefined.setdefault(sym, os.path.basename(o))
        upward = sorted("%s (%s)" % (sym, where) for sym, where in undefined.items()
                        if sym.startswith("cs_") and sym not in defined)
        self.assertEqual(upward, [])


class Layering(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.tree = os.path.join(self.tmp.path, "tree")
        for top in ("src", "include"):
            shutil.copytree(os.path.join(SOURCE_DIR, top), os.path.join(self.tree, top))

    def tearDown(self):
        self.tmp.cleanup()

    def add_include(self, rel, header):
        path = os.path.join(self.tree, rel)
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write('#include "%s"\n' % header + text)

    def test_tree_follows_the_matrix(self):
        r = run(SOURCE_DIR)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")

    def test_upward_include_fails(self):
        cases = [
            ("src/core/bus.c", "net/addr.h", "core -> net"),
            ("src/core/schema.c", "evm/chain.h", "core -> evm"),
            ("src/net/addr.c", "bus/frame.h", "net -> bus"),
            ("src/notify/outbox.c", "rules/expr.h", "notify -> rules"),
            ("src/notify/outbox.c", "audit/audit.h", "notify -> audit"),
            ("src/rules/window.c", "evm/chain.h", "rules -> evm"),
            ("src/rules/window.c", "notify/channel.h", "rules -> notify"),
            ("src/btc/peer.c", "evm/probe.h", "btc -> evm"),
            ("src/evm/fetch.c", "cli/cli.h", "evm -> cli"),
            ("include/chainscope/client.h", "core/event.h", "chainscope -> core"),
        ]
        for rel, header, arrow in cases:
            with self.subTest(file=rel, header=header):
                self.add_include(rel, header)
                r = run(self.tree)
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertIn('%s:1: %s "%s"' % (rel, arrow, header), r.stdout)
                # Undo, so each case is checked on its own.
                path = os.path.join(self.tree, rel)
                with open(path) as f:
                    lines = f.readlines()
                with open(path, "w") as f:
                    f.writelines(lines[1:])
        self.assertEqual(run(self.tree).returncode, 0)

    def test_allowed_includes_pass(self):
        # Sources on the bus and the ABI codec, rules on the ABI codec, the
        # audit on a chain's probes, the command line on anything.
        for rel, header in [("src/evm/fetch.c", "bus/frame.h"),
                            ("src/rules/window.c", "abi/abi.h"),
                            ("src/audit/ledger.c", "evm/probe.h"),
                            ("src/cli/main.c", "notify/outbox.h")]:
            self.add_include(rel, header)
        r = run(self.tree)
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_stale_allow_list_entry_fails(self):
        # Once the include an entry excuses is gone, the entry must go too.
        r = subprocess.run([sys.executable, SCRIPT, "--list-known"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        for line in r.stdout.splitlines():
            rel, header = line.split()
            with self.subTest(file=rel, header=header):
                path = os.path.join(self.tree, rel)
                with open(path) as f:
                    text = f.read()
                inc = '#include "%s"\n' % header
                self.assertIn(inc, text)
                with open(path, "w") as f:
                    f.write(text.replace(inc, ""))
                r = run(self.tree)
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertIn('%s: allow-list entry "%s" matches nothing' % (rel, header),
                              r.stdout)
                with open(path, "w") as f:
                    f.write(text)


if __name__ == "__main__":
    main()
