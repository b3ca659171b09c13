"""``artifact``: go-getter's http(s), file:// and local getters, archives, checksums, modes,
destinations; failures as Nomad's task events; getters nomadlab lacks refused up front."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import os
import tarfile
import threading
import zipfile
from typing import Iterator

import pytest

import nomadlab as nl
from nomadlab.client.artifact import ArtifactError, fetch_artifact
from nomadlab.structs import TaskArtifact


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


BUNDLE = _tar_gz({"app/run.sh": b"echo from-the-bundle\n", "app/VERSION": b"1.4.2\n"})
FILES = {
    "/bundle.tar.gz": BUNDLE,
    "/bundle.zip": _zip({"site/index.html": b"<h1>hi</h1>"}),
    "/motd.txt": b"hello from http\n",
    "/evil.tar.gz": _tar_gz({"../../outside.txt": b"gotcha"}),
    "/notes.txt.gz": gzip.compress(b"unzipped notes\n"),
}


class _Handler(http.server.BaseHTTPRequestHandler):
    seen_headers: list[dict[str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        _Handler.seen_headers.append({**self.headers, "path": self.path})
        path = self.path.split("?", 1)[0]
        if path == "/private.txt":
            if self.headers.get("Authorization") != "Bearer s3cr3t":
                self.send_response(403)
                self.end_headers()
                return
            body = b"secret stuff\n"
        elif path in FILES:
            body = FILES[path]
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def alloc(tmp_path) -> tuple[str, str]:
    """``(task dir, alloc root)`` laid out as the client lays them out."""
    root = tmp_path / "alloc-id"
    for sub in ("web/local", "web/secrets", "alloc/data"):
        (root / sub).mkdir(parents=True)
    return str(root / "web"), str(root)


def fetch(alloc: tuple[str, str], **fields: object) -> str:
    task_dir, root = alloc
    return fetch_artifact(TaskArtifact(**fields), {"VERSION": "1.4.2"}, task_dir, root)


def test_http_archive_is_unpacked_into_local(server, alloc) -> None:
    fetch(alloc, getter_source=f"{server}/bundle.tar.gz", relative_dest="local/")
    with open(os.path.join(alloc[0], "local", "app", "run.sh")) as f:
        assert f.read() == "echo from-the-bundle\n"


def test_zip_archive_and_archive_false(server, alloc) -> None:
    fetch(alloc, getter_source=f"{server}/bundle.zip", relative_dest="local/www")
    assert os.path.isfile(os.path.join(alloc[0], "local", "www", "site", "index.html"))
    fetch(alloc, getter_source=f"{server}/bundle.tar.gz", relative_dest="local/raw",
          getter_options={"archive": "false"})
    with open(os.path.join(alloc[0], "local", "raw", "bundle.tar.gz"), "rb") as f:
        assert f.read() == BUNDLE


def test_a_plain_file_lands_under_its_name_or_at_the_destination_in_file_mode(server,
                                                                            alloc) -> None:
    assert fetch(alloc, getter_source=f"{server}/motd.txt", relative_dest="local/") == \
        os.path.join(alloc[0], "local", "motd.txt")
    path = fetch(alloc, getter_source=f"{server}/motd.txt", getter_mode="file",
                 relative_dest="local/etc/motd")
    assert path == os.path.join(alloc[0], "local", "etc", "motd")
    with open(path) as f:
        assert f.read() == "hello from http\n"
    with pytest.raises(ArtifactError, match="source is a file, not a directory"):
        fetch(alloc, getter_source=f"{server}/motd.txt", getter_mode="dir",
              relative_dest="local/d")


def test_options_go_getter_knows_and_query_parameters_it_passes_on(server, alloc) -> None:
    path = fetch(alloc, getter_source=f"{server}/motd.txt?version=${{VERSION}}",
                 getter_options={"filename": "greeting", "token": "t0k"})
    assert path == os.path.join(alloc[0], "local", "greeting")
    assert _Handler.seen_headers[-1]["path"] == "/motd.txt?version=1.4.2&token=t0k"
    path = fetch(alloc, getter_source=f"{server}/notes.txt.gz", getter_mode="file",
                 relative_dest="local/notes.txt")
    with open(path) as f:
        assert f.read() == "unzipped notes\n"
    with pytest.raises(ArtifactError, match="gzip-style decompression can only be done to a "
                                            "file"):
        fetch(alloc, getter_source=f"{server}/notes.txt.gz")


def test_checksum_is_checked_before_unpacking(server, alloc) -> None:
    good = hashlib.sha256(BUNDLE).hexdigest()
    fetch(alloc, getter_source=f"{server}/bundle.tar.gz", relative_dest="local/ok",
          getter_options={"checksum": f"sha256:{good}"})
    assert os.path.isfile(os.path.join(alloc[0], "local", "ok", "app", "VERSION"))
    with pytest.raises(ArtifactError, match="Checksums did not match"):
        fetch(alloc, getter_source=f"{server}/bundle.tar.gz", relative_dest="local/bad",
              getter_options={"checksum": "sha256:" + "0" * 64})
    assert not os.path.exists(os.path.join(alloc[0], "local", "bad"))


def test_headers_are_sent_and_interpolated(server, alloc) -> None:
    with pytest.raises(ArtifactError, match="bad response code: 403"):
        fetch(alloc, getter_source=f"{server}/private.txt")
    fetch(alloc, getter_source=f"{server}/private.txt",
          getter_headers={"Authorization": "Bearer s3cr3t", "X-Version": "${VERSION}"})
    assert _Handler.seen_headers[-1]["X-Version"] == "1.4.2"
    assert os.path.isfile(os.path.join(alloc[0], "local", "private.txt"))


def test_local_path_and_file_url_inside_the_alloc_dir(alloc) -> None:
    task_dir, root = alloc
    with open(os.path.join(root, "alloc", "data", "bundle.tar.gz"), "wb") as f:
        f.write(BUNDLE)
    fetch(alloc, getter_source="../alloc/data/bundle.tar.gz", relative_dest="local/rel")
    assert os.path.isfile(os.path.join(task_dir, "local", "rel", "app", "run.sh"))
    fetch(alloc, getter_source=f"file://{root}/alloc/data/bundle.tar.gz", getter_mode="file",
          relative_dest="local/copy.tgz", getter_options={"archive": "false"})
    with open(os.path.join(task_dir, "local", "copy.tgz"), "rb") as f:
        assert f.read() == BUNDLE


@pytest.mark.parametrize("suffix, mode", [(".tar.bz2", "w:bz2"), (".txz", "w:xz"),
                                          (".tar", "w")])
def test_other_tar_compressions_go_getter_knows(alloc, suffix: str, mode: str) -> None:
    task_dir, root = alloc
    path = os.path.join(root, "alloc", "data", "bundle" + suffix)
    with tarfile.open(path, mode) as tf:
        info = tarfile.TarInfo("x/hello.txt")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"hi"))
    fetch(alloc, getter_source=path, relative_dest="local/t")
    with open(os.path.join(task_dir, "local", "t", "x", "hello.txt")) as f:
        assert f.read() == "hi"


def test_local_sources_outside_the_sandbox_are_refused(alloc, tmp_path) -> None:
    (tmp_path / "beside.txt").write_text("not in the alloc dir")
    with pytest.raises(ArtifactError, match="permission denied"):
        fetch(alloc, getter_source=str(tmp_path / "beside.txt"))
    with pytest.raises(ArtifactError, match="permission denied"):
        fetch(alloc, getter_source="/etc/hostname")
    with pytest.raises(ArtifactError, match="permission denied"):
        fetch(alloc, getter_source="file:///etc/passwd", getter_mode="file",
              relative_dest="local/passwd")
    assert not os.path.exists(os.path.join(alloc[0], "local", "passwd"))


def test_destinations_and_archive_members_stay_inside(server, alloc) -> None:
    with pytest.raises(ArtifactError, match="escapes the alloc directory"):
        fetch(alloc, getter_source=f"{server}/motd.txt", relative_dest="../../elsewhere")
    with pytest.raises(ArtifactError, match="escapes the alloc directory"):
        fetch(alloc, getter_source=f"{server}/motd.txt",
              getter_options={"filename": "../../../outside.txt"})
    os.symlink("/etc", os.path.join(alloc[1], "alloc", "data", "etc"))
    with pytest.raises(ArtifactError, match="escapes the alloc directory"):
        fetch(alloc, getter_source=f"{server}/motd.txt", relative_dest="../alloc/data/etc")
    with pytest.raises(ArtifactError, match="failed to decompress"):
        fetch(alloc, getter_source=f"{server}/evil.tar.gz", relative_dest="local/x")
    assert not os.path.exists(os.path.join(os.path.dirname(alloc[1]), "outside.txt"))


def test_missing_file_is_a_download_error(server, alloc) -> None:
    with pytest.raises(ArtifactError, match="bad response code: 404"):
        fetch(alloc, getter_source=f"{server}/nope.tar.gz")


@pytest.mark.parametrize("source, getter", [
    ("git::https://github.com/hashicorp/example", "git"),
    ("github.com/hashicorp/example", "git"),
    ("s3::https://s3.amazonaws.com/bucket/foo", "s3"),
    ("gcs::https://www.googleapis.com/storage/v1/bucket/foo", "gcs"),
    ("hg::http://example.com/repo", "hg"),
])
def test_getters_nomadlab_lacks_are_refused_by_validation(source, getter) -> None:
    spec = f'''job "j" {{
  group "g" {{
    task "t" {{
      driver = "exec"
      config {{ command = "/bin/true" }}
      artifact {{ source = "{source}" }}
    }}
  }}
}}'''
    with pytest.raises(nl.JobSpecError, match=f"needs go-getter's {getter} getter, which "
                                              "nomadlab does not have"):
        nl.parse_job(spec)


def _job(job_id: str, artifact: str, command: str, restart: str = "") -> str:
    return f'''job "{job_id}" {{
  type = "batch"
  group "g" {{
    restart {{
      attempts = 1
      delay    = "50ms"
      mode     = "fail"
    }}
    reschedule {{
      attempts  = 0
      unlimited = false
    }}
    task "t" {{
      driver = "exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "{command}"]
      }}
      {artifact}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}'''


def test_a_task_runs_what_its_artifact_brought(server) -> None:
    spec = _job("fetch", f'artifact {{\n source = "{server}/bundle.tar.gz"\n'
                         ' destination = "local/bundle"\n }', "sh local/bundle/app/run.sh")
    with nl.dev(seed=5) as c:
        c.submit(spec)
        (alloc,) = c.wait("fetch", status="complete", timeout=30)
        assert c.logs(alloc.id, "t") == "from-the-bundle\n"
        kinds = [e.type for e in alloc.task_states["t"].events]
        assert kinds[:3] == ["Received", "Task Setup", "Downloading Artifacts"]
        assert kinds.index("Downloading Artifacts") < kinds.index("Started")


def test_a_failed_download_is_an_event_then_the_restart_policy(server) -> None:
    spec = _job("nofetch", f'artifact {{\n source = "{server}/missing.tar.gz"\n }}', "true")
    with nl.dev(seed=5) as c:
        c.submit(spec)
        (alloc,) = c.wait("nofetch", status="failed", timeout=30)
        events = alloc.task_states["t"].events
        kinds = [e.type for e in events]
        assert kinds == ["Received", "Task Setup", "Downloading Artifacts",
                         "Failed Artifact Download", "Restarting", "Downloading Artifacts",
                         "Failed Artifact Download", "Not Restarting"]
        failed = events[3]
        assert "bad response code: 404" in failed.display_message
        assert failed.download_error == failed.display_message
        assert alloc.task_states["t"].failed


def test_a_docker_task_sees_its_artifact_and_env_template_in_local(server, engine) -> None:
    spec = f'''job "dfetch" {{
  type = "batch"
  group "g" {{
    task "t" {{
      driver = "docker"
      config {{
        image   = "nomadlab/busybox:latest"
        command = "sh"
        args    = ["-c", "cat /local/app/VERSION; echo $FROM_TEMPLATE"]
      }}
      artifact {{
        source = "{server}/bundle.tar.gz"
      }}
      template {{
        data        = "FROM_TEMPLATE=templated\\n"
        destination = "local/vars.env"
        env         = true
      }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}'''
    with nl.dev(seed=5) as c:
        c.submit(spec)
        (alloc,) = c.wait("dfetch", status="complete", timeout=60)
        assert c.logs(alloc.id, "t") == "1.4.2\ntemplated\n"


def test_a_file_a_prestart_task_left_in_the_alloc_dir_is_fetched_by_path_and_url() -> None:
    spec = '''job "relay" {
  type = "batch"
  group "g" {
    task "make" {
      lifecycle {
        hook = "prestart"
      }
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "mkdir -p $NOMAD_ALLOC_DIR/data/out && echo handed-over > $NOMAD_ALLOC_DIR/data/out/note.txt && tar czf $NOMAD_ALLOC_DIR/data/out.tgz -C $NOMAD_ALLOC_DIR/data out"]
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
    task "use" {
      driver = "exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "cat local/note.txt local/unpacked/out/note.txt"]
      }
      artifact {
        source = "file://${NOMAD_ALLOC_DIR}/data/out/note.txt"
        mode   = "file"
      }
      artifact {
        source      = "../alloc/data/out.tgz"
        destination = "local/unpacked"
      }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}'''
    with nl.dev(seed=5) as c:
        c.submit(spec)
        (alloc,) = c.wait("relay", status="complete", timeout=30)
        assert c.logs(alloc.id, "use") == "handed-over\nhanded-over\n"
