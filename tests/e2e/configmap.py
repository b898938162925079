# SPDX-License-Identifier: BSD-2-Clause
"""A routes directory laid out as Kubernetes mounts a ConfigMap: kubelet's
atomic writer (pkg/volume/util/atomic_writer.go).

    ROUTES/..2026_12_04_15_00_00.123456789/reviews.yaml    the files, one dir per version
    ROUTES/..data -> ..2026_12_04_15_00_00.123456789
    ROUTES/reviews.yaml -> ..data/reviews.yaml              one link per key

An update writes a new timestamped directory, points a new ..data_tmp link at it
and rename()s that over ..data (the one atomic step), creates the links of new
keys, removes the links of removed keys and then the old directory."""
import os
import tempfile
import time


class ConfigMap:
    def __init__(self, path):
        self.path = path
        os.makedirs(path, exist_ok=True)

    def _data_dir(self):
        try:
            return os.readlink(os.path.join(self.path, "..data"))
        except FileNotFoundError:
            return None

    def keys(self):
        d = self._data_dir()
        return sorted(os.listdir(os.path.join(self.path, d))) if d else []

    def write(self, files):
        """Publish FILES ({key: text}) as the ConfigMap's whole new content."""
        old_dir, old_keys = self._data_dir(), set(self.keys())
        ts = tempfile.mkdtemp(dir=self.path,
                              prefix=time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()))
        os.chmod(ts, 0o755)
        for key, text in files.items():
            with open(os.path.join(ts, key), "w") as f:
                f.write(text)
        tmp = os.path.join(self.path, "..data_tmp")
        os.symlink(os.path.basename(ts), tmp)
        os.rename(tmp, os.path.join(self.path, "..data"))
        for key in files:
            link = os.path.join(self.path, key)
            if not os.path.lexists(link):
                os.symlink(os.path.join("..data", key), link)
        for key in old_keys - set(files):
            os.unlink(os.path.join(self.path, key))
        if old_dir:
            old = os.path.join(self.path, old_dir)
            for name in os.listdir(old):
                os.unlink(os.path.join(old, name))
            os.rmdir(old)
