"""`havipd --check-config`: needs neither root nor namespaces."""

import subprocess

from helpers import render_config, router


def check(binary, path):
    return subprocess.run([str(binary), "--check-config", "--config", str(path)],
                          capture_output=True, text=True, timeout=10)


def test_good_config_exits_0(havipd_bin, workdir):
    path = workdir / "good.toml"
    path.write_text(render_config(
        {"state_dir": str(workdir / "state"), "hold_down_ms": 2000},
        [router("r1", "qrouter-1"), router("r2", None, vip="fd00::1/64", hold_down_ms=0)]))
    proc = check(havipd_bin, path)
    assert proc.returncode == 0, proc.stderr
    assert f"{path}: ok, 2 routers" in proc.stdout
    assert not (workdir / "state").exists()  # checking does not start anything


def test_bad_value_exits_1_with_file_and_line(havipd_bin, workdir):
    path = workdir / "bad.toml"
    path.write_text(
        '[daemon]\n'
        f'state_dir = "{workdir}/state"\n'
        '\n'
        '[[router]]\n'
        'name = "r1"\n'
        'interface = "ha-r1"\n'
        'vip = "169.254.0.300/24"\n')
    proc = check(havipd_bin, path)
    assert proc.returncode == 1
    assert f"{path}:7: router[1].vip: expected" in proc.stderr, proc.stderr


def test_toml_syntax_error_exits_1_with_file_and_line(havipd_bin, workdir):
    path = workdir / "broken.toml"
    path.write_text('[daemon]\nstate_dir = "/tmp/x"\nhold_down_ms = = 3\n')
    proc = check(havipd_bin, path)
    assert proc.returncode == 1
    assert f"{path}:3:" in proc.stderr, proc.stderr


def test_unknown_key_is_named(havipd_bin, workdir):
    path = workdir / "typo.toml"
    path.write_text('[daemon]\nhold_down = 5\n')
    proc = check(havipd_bin, path)
    assert proc.returncode == 1
    assert f"{path}:2:" in proc.stderr and "hold_down" in proc.stderr, proc.stderr


def test_the_readmes_example_configuration_is_valid(havipd_bin, workdir):
    """README's "Configuration" example, with every key at its documented default, as it
    is written there (it once said control_socket_group = "", which was rejected)."""
    from pathlib import Path
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    conf = workdir / "readme.toml"
    conf.write_text(example)
    p = subprocess.run([str(havipd_bin), "--check-config", "--config", str(conf)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
