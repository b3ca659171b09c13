"""Templates: env and node lookups, Go text/template lexing, errors, paths and perms."""

from __future__ import annotations

import os
import stat

import pytest

from nomadlab.client.template import (TemplateError, render_template, render_text,
                                      write_templates)
from nomadlab.structs import Node, Task, Template

NODE = Node(id="node-1234", name="client-a", datacenter="dc2",
            attributes={"kernel.name": "linux"}, meta={"rack": "r7"})


@pytest.fixture
def dirs(tmp_path):
    alloc = tmp_path / "alloc-id"
    task_dir = alloc / "web"
    (task_dir / "local").mkdir(parents=True)
    (alloc / "alloc").mkdir()
    env = {"NOMAD_ALLOC_DIR": str(alloc / "alloc"), "NOMAD_TASK_DIR": str(task_dir / "local"),
           "NOMAD_SECRETS_DIR": str(task_dir / "secrets"), "NOMAD_PORT_http": "8080",
           "NOMAD_REGION": "eu", "GREETING": "hello"}
    return str(task_dir), env


def render(text, env=None, **kw):
    lookup = {"GREETING": "hello", "node.unique.name": "client-a"} if env is None else env
    return render_text(text, lookup, name="local/x", **kw)


def test_env_lookups_of_task_env_and_node_values(dirs):
    task_dir, env = dirs
    tmpl = Template(dest_path="local/app.conf", embedded_tmpl=(
        'port={{ env "NOMAD_PORT_http" }} greet={{env "GREETING"}}\n'
        'node={{ env "node.unique.name" }} id={{ env "node.unique.id" }} '
        'dc={{ env "node.datacenter" }} region={{ env "node.region" }}\n'
        'kernel={{ env "attr.kernel.name" }} rack={{ env "meta.rack" }} '
        'missing=[{{ env "NOPE" }}] lit={{ "x}}y" }} raw={{ `a"b` }}\n'))
    dest, text = render_template(tmpl, env, NODE, task_dir)
    assert dest == os.path.join(task_dir, "local", "app.conf")
    assert text == ("port=8080 greet=hello\n"
                    "node=client-a id=node-1234 dc=dc2 region=eu\n"
                    'kernel=linux rack=r7 missing=[] lit=x}}y raw=a"b\n')


def test_trim_markers_follow_go():
    assert render("a  \n {{- env \"GREETING\" -}} \n\t b") == "ahellob"
    assert render("a {{- env \"GREETING\" }} b") == "ahello b"
    assert render("a {{ env \"GREETING\" -}}\n b") == "a hellob"
    assert render("{{-\nenv \"GREETING\"\n-}}") == "hello"


def test_comments_render_nothing_and_may_trim():
    assert render("a {{/* a\nmultiline comment */}} b") == "a  b"
    assert render("a\n{{- /* gone */ -}}\nb") == "ab"
    with pytest.raises(TemplateError, match="line 2: comment ends before closing delimiter"):
        render("x\n{{/* c */ }}")
    with pytest.raises(TemplateError, match="unclosed comment"):
        render("{{/* c ")


def test_custom_delimiters():
    text = '[[ env "GREETING" ]] {{ not an action }} [[- /* c */ -]] [[ "lit" ]]'
    assert render(text, left_delim="[[", right_delim="]]") == "hello {{ not an action }}lit"


def test_custom_delimiters_from_the_template_block(dirs):
    task_dir, env = dirs
    tmpl = Template(dest_path="local/a", embedded_tmpl='<% env "GREETING" %> {{ x }}',
                    left_delim="<%", right_delim="%>")
    assert render_template(tmpl, env, NODE, task_dir)[1] == "hello {{ x }}"


@pytest.mark.parametrize("action, service", [
    ('{{ key "config/x" }}', "Consul"), ('{{ service "db" }}', "Consul"),
    ('{{ range service "db" }}{{ end }}', None), ('{{ keyOrDefault "a" "b" }}', "Consul"),
    ('{{ with secret "kv/x" }}{{ end }}', None), ('{{ secret "kv/x" }}', "Vault")])
def test_consul_and_vault_lookups_are_refused_clearly(action, service):
    with pytest.raises(TemplateError) as err:
        render("ok\nok\n" + action)
    message = str(err.value)
    assert "'local/x' line 3" in message
    if service:
        assert f"needs {service}, which is not available in nomadlab" in message
    else:
        assert "is not supported" in message


@pytest.mark.parametrize("action, word", [("{{ if true }}x{{ end }}", "if"),
                                          ("{{ range $i := .x }}", "range"),
                                          ("{{ end }}", "end")])
def test_control_structures_name_their_line(action, word):
    with pytest.raises(TemplateError, match=rf"line 2: \{{\{{ {word} \}}\}} is not supported"):
        render("first\n" + action)


@pytest.mark.parametrize("text, message", [
    ("{{ }}", "missing value"), ('{{ env "A" "B" }}', "env takes one quoted name"),
    ('{{ env NAME }}', "env takes one quoted name"),
    ('{{ env "A" | toUpper }}', "pipelines are not supported"),
    ('{{ nomadVar "x" }}', "does not support"), ("{{ .Foo }}", "not supported"),
    ('{{ env "A" ', "unclosed action"), ('{{ env "A }}', "unterminated quoted string")])
def test_malformed_or_unsupported_actions(text, message):
    with pytest.raises(TemplateError, match=message):
        render(text)


def test_source_file_relative_to_task_dir(dirs):
    task_dir, env = dirs
    with open(os.path.join(task_dir, "local", "in.tpl"), "w") as f:
        f.write('hi {{ env "GREETING" }}')
    tmpl = Template(source_path="local/in.tpl", dest_path="local/out.txt")
    assert render_template(tmpl, env, NODE, task_dir) == (
        os.path.join(task_dir, "local", "out.txt"), "hi hello")


def test_source_errors(dirs):
    task_dir, env = dirs
    with pytest.raises(TemplateError, match="cannot read source"):
        render_template(Template(source_path="local/none.tpl", dest_path="local/o"),
                        env, NODE, task_dir)
    with pytest.raises(TemplateError, match="source .* escapes"):
        render_template(Template(source_path="/etc/hostname", dest_path="local/o"),
                        env, NODE, task_dir)
    with pytest.raises(TemplateError, match="either source or data"):
        render_template(Template(source_path="local/a", embedded_tmpl="x", dest_path="local/o"),
                        env, NODE, task_dir)
    with pytest.raises(TemplateError, match="needs a source or data"):
        render_template(Template(dest_path="local/o"), env, NODE, task_dir)
    with pytest.raises(TemplateError, match="destination is required"):
        render_template(Template(embedded_tmpl="x"), env, NODE, task_dir)


@pytest.mark.parametrize("dest", ["../../escape.txt", "local/../../../x", "../alloc/../../x"])
def test_destination_escapes_are_refused(dirs, dest):
    task_dir, env = dirs
    with pytest.raises(TemplateError, match="escapes the task and alloc directories"):
        render_template(Template(dest_path=dest, embedded_tmpl="x"), env, NODE, task_dir)


def test_links_a_task_planted_are_not_followed_out_of_its_directories(dirs, tmp_path):
    """A task may put symlinks in its own directory; the client (often root) must not
    write or read through them to a file outside the task and alloc directories."""
    task_dir, env = dirs
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s3cret")
    os.symlink(outside / "victim", os.path.join(task_dir, "local", "link"))
    os.symlink(outside, os.path.join(task_dir, "local", "dir"))
    os.symlink(outside / "secret", os.path.join(task_dir, "local", "src"))
    for dest in ("local/link", "local/dir/victim"):
        with pytest.raises(TemplateError, match="escapes the task and alloc directories"):
            write_templates(Task(name="web", templates=[
                Template(dest_path=dest, embedded_tmpl="owned")]), env, NODE, task_dir)
    with pytest.raises(TemplateError, match="source .* escapes"):
        render_template(Template(source_path="local/src", dest_path="local/o"),
                        env, NODE, task_dir)
    assert not (outside / "victim").exists()
    assert (outside / "secret").read_text() == "s3cret"


def test_destinations_nomad_allows(dirs):
    task_dir, env = dirs
    alloc_shared = env["NOMAD_ALLOC_DIR"]
    cases = {"${NOMAD_SECRETS_DIR}/token": os.path.join(task_dir, "secrets", "token"),
             "${NOMAD_ALLOC_DIR}/shared.conf": os.path.join(alloc_shared, "shared.conf"),
             "../alloc/data/x": os.path.join(alloc_shared, "data", "x"),
             "/etc/app.conf": os.path.join(task_dir, "etc", "app.conf"),
             # An absolute path that escapes is joined under the task dir, as Nomad does.
             "${NOMAD_ALLOC_DIR}/../../x": os.path.join(
                 task_dir, os.path.dirname(os.path.dirname(alloc_shared)).lstrip("/"), "x"),
             "local/${node.unique.name}.conf": os.path.join(task_dir, "local", "client-a.conf")}
    for dest, expected in cases.items():
        tmpl = Template(dest_path=dest, embedded_tmpl="x")
        assert render_template(tmpl, env, NODE, task_dir)[0] == expected, dest


def test_write_templates_creates_dirs_and_sets_perms(dirs):
    task_dir, env = dirs
    task = Task(name="web", templates=[
        Template(dest_path="local/conf/app.ini", embedded_tmpl='g={{ env "GREETING" }}\n'),
        Template(dest_path="secrets/key", embedded_tmpl="k", perms="600")])
    written = write_templates(task, env, NODE, task_dir)
    assert written == [os.path.join(task_dir, "local", "conf", "app.ini"),
                       os.path.join(task_dir, "secrets", "key")]
    with open(written[0]) as f:
        assert f.read() == "g=hello\n"
    assert stat.S_IMODE(os.stat(written[0]).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(written[1]).st_mode) == 0o600


def test_write_templates_writes_nothing_when_one_fails(dirs):
    task_dir, env = dirs
    task = Task(name="web", templates=[
        Template(dest_path="local/good", embedded_tmpl="x"),
        Template(dest_path="local/bad", embedded_tmpl='{{ key "x" }}')])
    with pytest.raises(TemplateError, match="Consul"):
        write_templates(task, env, NODE, task_dir)
    assert not os.path.exists(os.path.join(task_dir, "local", "good"))


@pytest.mark.parametrize("perms", ["rw-r--r--", "99", "17777"])
def test_bad_perms(dirs, perms):
    task_dir, env = dirs
    task = Task(name="web", templates=[Template(dest_path="local/a", embedded_tmpl="x",
                                                perms=perms)])
    with pytest.raises(TemplateError, match="not an octal file mode"):
        write_templates(task, env, NODE, task_dir)
