"""Build Shoal's local busybox image offline: no registry is reachable from these machines.

The static busybox from Debian's busybox-static is copied into an empty root with one
symlink per applet, and the root is imported as an image (`docker import` through the SDK).
Does nothing when the image already exists.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import docker

BUSYBOX = Path("/bin/busybox")


def applets() -> list[str]:
    out = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True, check=True)
    return [a for a in out.stdout.split() if a and a != "busybox"]


def root_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp", "etc", "www", "proc", "sys", "dev"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        data = BUSYBOX.read_bytes()
        info = tarfile.TarInfo("bin/busybox")
        info.size = len(data)
        info.mode = 0o755
        tar.addfile(info, io.BytesIO(data))
        for name in applets():
            link = tarfile.TarInfo(f"bin/{name}")
            link.type = tarfile.SYMTYPE
            link.linkname = "busybox"
            tar.addfile(link)
        for path, text in {
            "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n",
            "etc/group": "root:x:0:\nnogroup:x:65534:\n",
            "www/index.html": "<h1>hello from shoal</h1>\n",
        }.items():
            raw = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(raw)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(raw))
    return buf.getvalue()


def main() -> int:
    image = sys.argv[1] if len(sys.argv) > 1 else "shoal-busybox:latest"
    client = docker.from_env()
    try:
        client.images.get(image)
        return 0
    except docker.errors.ImageNotFound:
        pass
    if not BUSYBOX.exists():
        print(f"build_image: {BUSYBOX} is missing (Debian package busybox-static)", file=sys.stderr)
        return 1
    repo, _, tag = image.partition(":")
    client.api.import_image_from_data(
        root_tar(), repository=repo, tag=tag or "latest", changes=['CMD ["sh"]', "WORKDIR /"]
    )
    client.images.get(image)
    print(f"build_image: built {image}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
