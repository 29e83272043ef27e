#!/usr/bin/python3
"""Installation: `cmake --install` of this build into a staging root, a
.deb made of that tree with dpkg-deb, unpacked into a throwaway root
(dpkg -x) and run from there; the shared library linked by a program built
with the installed pkg-config file; the systemd units verified by
systemd-analyze; the man pages rendered and checked against every line of
--help; the bash completion tried. (`make deb` builds the real packages
with dpkg-buildpackage and lintian; it takes minutes, so it is its own
target.)"""
import glob
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cslib import (CHAINSCOPE, SANITIZED, SOURCE_DIR, Server, TempDir, cs,  # noqa: E402
                   main)

BUILD_DIR = os.environ.get("CS_BUILD_DIR") or os.path.dirname(CHAINSCOPE)
GEN_MAN = os.path.join(SOURCE_DIR, "scripts", "gen-man")


def run(args, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    r = subprocess.run(args, **kw)
    if r.returncode != 0:
        raise AssertionError("%s failed (%d): %s%s" % (args, r.returncode, r.stdout, r.stderr))
    return r


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.stage = os.path.join(cls.tmp.path, "stage")
        # the build's own prefix (/usr/local unless configured otherwise)
        run(["cmake", "--install", BUILD_DIR], env=dict(os.environ, DESTDIR=cls.stage))
        os.makedirs(os.path.join(cls.stage, "DEBIAN"))
        with open(os.path.join(cls.stage, "DEBIAN", "control"), "w") as f:
            f.write("Package: chainscope\nVersion: 0.1.0\nArchitecture: amd64\n"
                    "Maintainer: chainscope maintainers <maintainers@chainscope.invalid>\n"
                    "Description: observatory for blockchain networks (staging build)\n")
        cls.deb = os.path.join(cls.tmp.path, "chainscope.deb")
        run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", cls.stage, cls.deb])
        cls.root = os.path.join(cls.tmp.path, "root")
        run(["dpkg", "-x", cls.deb, cls.root])

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, rel):
        """The file rel (a glob) under the prefix, or absolute (/etc, /lib)."""
        hits = glob.glob(os.path.join(self.root, rel)) or \
            glob.glob(os.path.join(self.root, "**", rel), recursive=True)
        self.assertTrue(hits, "%s is not in the package" % rel)
        return hits[0]

    def test_binary_runs_from_the_unpacked_root(self):
        r = run([self.path("bin/chainscope"), "--version"])
        self.assertEqual(r.stdout.strip(), "chainscope 0.1.0")
        r = run([self.path("bin/chainscope"), "check-config",
                 self.path("etc/chainscope/chainscope.yaml")])
        self.assertIn("valid", r.stdout)
        for rel in ("share/man/man1/chainscope.1", "share/man/man1/chainscope-run.1",
                    "share/man/man5/chainscope.yaml.5", "lib/systemd/system/chainscope.service",
                    "lib/systemd/system/chainscope@.service",
                    "lib/systemd/system/chainscope-audit.timer",
                    "share/bash-completion/completions/chainscope",
                    "include/chainscope/client.h", "share/doc/chainscope/examples/*.yaml"):
            self.path(rel)

    def test_shared_library_and_pkg_config(self):
        lib = self.path("libchainscope.so.0.1.0")
        soname = run(["objdump", "-p", lib]).stdout
        self.assertRegex(soname, r"SONAME\s+libchainscope\.so\.0\n")
        self.assertEqual(os.readlink(self.path("libchainscope.so")),
                         "libchainscope.so.0")
        pcdir = os.path.dirname(self.path("pkgconfig/chainscope.pc"))
        env = dict(os.environ, PKG_CONFIG_PATH=pcdir, PKG_CONFIG_SYSROOT_DIR=self.root)
        flags = run(["pkg-config", "--cflags", "--libs", "chainscope"], env=env).stdout.split()
        self.assertIn("-lchainscope", flags)
        if SANITIZED:
            return  # the sanitized library needs its runtime first in the program
        exe = os.path.join(self.tmp.path, "subscribe")
        run(["cc", "-o", exe, os.path.join(SOURCE_DIR, "examples", "subscribe.c")] + flags)
        env = dict(os.environ, LD_LIBRARY_PATH=os.path.dirname(lib))
        self.assertIn(lib.replace(".0.1.0", ".0"), run(["ldd", exe], env=env).stdout)
        tmp = TempDir()
        srv = Server(tmp)
        try:
            p = subprocess.Popen([exe, srv.socket, "demo.>", "1"], env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.assertIn("subscribed", p.stderr.readline())
            cs("publish", "--socket", srv.socket, "--type", "demo.sample", "--json",
               '{"n":7}', check=True)
            out, _ = p.communicate(timeout=30)
            self.assertEqual(p.returncode, 0)
            self.assertIn('demo.sample', out)
            self.assertIn('{"n":7}', out)
        finally:
            srv.stop()
            tmp.cleanup()

    def test_systemd_units_verify(self):
        units = os.path.join(self.tmp.path, "units")
        os.makedirs(units, exist_ok=True)
        names = []
        for src in glob.glob(os.path.join(self.root, "lib/systemd/system/*")):
            with open(src) as f:
                text = f.read()
            # the binary where it is unpacked, so ExecStart= can be checked
            dst = os.path.join(units, os.path.basename(src))
            with open(dst, "w") as f:
                f.write(text.replace("/usr/bin/chainscope", self.path("bin/chainscope")))
            names.append(dst)
        self.assertEqual(len(names), 4)
        env = dict(os.environ, MANPATH=os.path.dirname(os.path.dirname(
            self.path("share/man/man1/chainscope.1"))))
        r = subprocess.run(["systemd-analyze", "verify"] + sorted(names), capture_output=True,
                           text=True, env=env, timeout=60)
        self.assertEqual((r.returncode, r.stdout + r.stderr), (0, ""))
        with open(os.path.join(units, "chainscope.service")) as f:
            text = f.read()
        for line in ("Type=notify", "DynamicUser=yes", "ProtectSystem=strict",
                     "NoNewPrivileges=yes", "CapabilityBoundingSet=\n",
                     "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                     "StateDirectory=chainscope", "RuntimeDirectory=chainscope",
                     "WatchdogSec="):
            self.assertIn(line, text)

    def test_man_pages_agree_with_help(self):
        env = dict(os.environ, XDG_RUNTIME_DIR="$XDG_RUNTIME_DIR")
        for k in ("CHAINSCOPE_SOCKET", "CHAINSCOPE_CONTROL"):
            env.pop(k, None)
        main_help = run([CHAINSCOPE, "--help"], env=env).stdout
        cmds = re.findall(r"^  ([a-z][a-z-]+) ", main_help.split("commands:")[1], re.M)
        self.assertIn("tail", cmds)
        pages = [("chainscope.1", main_help)] + [
            ("chainscope-%s.1" % c, run([CHAINSCOPE, c, "--help"], env=env).stdout)
            for c in cmds]
        for page, help_text in pages:
            man = self.path("share/man/man1/" + page)
            text = run(["man", "-l", man], env=dict(os.environ, MANWIDTH="400")).stdout
            text = re.sub(r"\s+", " ", re.sub(r".\x08", "", text))
            for line in help_text.splitlines():
                line = re.sub(r"\s+", " ", line.strip())
                if line:
                    self.assertIn(line, text, "%s lacks a line of --help" % page)
        cfg = run(["man", "-l", self.path("share/man/man5/chainscope.yaml.5")]).stdout
        self.assertIn("logserver.tcp.token", cfg)

    def test_bash_completion(self):
        comp = self.path("share/bash-completion/completions/chainscope")

        def complete(*words):
            script = ('source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _chainscope; '
                      'printf "%%s\\n" "${COMPREPLY[@]}"' % (
                          comp, " ".join("'%s'" % w for w in words), len(words) - 1))
            return run(["bash", "-c", script]).stdout.split()
        self.assertEqual(complete("chainscope", "ta"), ["tail"])
        self.assertIn("--filter", complete("chainscope", "tail", "--f"))
        self.assertIn("peers", complete("chainscope", "ctl", "p"))


if __name__ == "__main__":
    main()
