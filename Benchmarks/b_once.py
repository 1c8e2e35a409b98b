"""b's `once` under a measuring tool, for phases.py and writes.py (Benchmarks/README.md)."""
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile


@contextlib.contextmanager
def once_under(bin_dir: str, delta: str, tool: list[str], prefix: str):
    """Starts BIN_DIR's emulator, copies DELTA into a fresh inbox and runs `once` on it with b's
    sending settings, as the argument of `tool` (a command such as `perf record … --`). Yields the
    work folder, where the tool's output can be kept, until the block ends; then stops the
    emulator and removes the folder."""
    root = tempfile.mkdtemp(prefix=prefix)
    emulator = subprocess.Popen([os.path.join(bin_dir, "tiktok-emulator"), "--host", "127.0.0.1", "--port", "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = emulator.stdout.readline() if emulator.stdout else ""
        if not line.startswith("listening on "):
            sys.exit(f"{bin_dir}: the emulator did not start")
        inbox = os.path.join(root, "inbox")
        os.makedirs(inbox)
        shutil.copyfile(delta, os.path.join(inbox, os.path.basename(delta)))
        config = os.path.join(root, "config.yaml")
        with open(config, "w") as handle:
            # b's sending settings (Benchmarks/run.sh).
            handle.write(
                f"inbox: {inbox}\nstate_directory: {os.path.join(root, 'state')}\nsettle_seconds: 0\n"
                f"tiktok:\n  base_url: {line.split()[-1]}\n  advertiser_id: \"7000000000000000001\"\n"
                "  requests_per_second: 1000\n  max_in_flight: 4\n")
        env = dict(os.environ, TIKTOK_ACCESS_TOKEN="emulator-token")
        command = [arg.replace("{root}", root) for arg in tool]
        run = subprocess.run(command + [os.path.join(bin_dir, "tiktok-audience-sync"), "once", "--config", config],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if run.returncode != 0:
            sys.exit(f"{bin_dir}: once ended with {run.returncode}")
        yield root
    finally:
        emulator.terminate()
        emulator.wait()
        shutil.rmtree(root, ignore_errors=True)
