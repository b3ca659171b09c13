"""Values read the way Nomad's own HCL parser reads them (fixes over pyhcl's defaults)."""

from __future__ import annotations

import nomadlab as nl
from nomadlab.structs.duration import SECOND


def task_of(task: str, group: str = "") -> nl.Task:
    job = nl.parse_job(f'job "j" {{\n group "g" {{\n {group}\n task "t" {{\n driver = "exec"\n'
                       f' {task}\n }}\n }}\n}}\n')
    return job.task_groups[0].tasks[0]


def test_heredoc_keeps_its_final_newline_and_flush_heredoc_drops_indentation() -> None:
    t = task_of('template {\n destination = "local/a"\n data = <<EOT\nline1\n  line2\nEOT\n}\n'
                'template {\n destination = "local/b"\n data = <<-EOT\n    x\n      y\n    EOT\n}')
    assert [tpl.embedded_tmpl for tpl in t.templates] == ["line1\n  line2\n", "x\n  y\n"]


def test_string_escapes_and_literal_interpolation() -> None:
    t = task_of('env {\n' r' A = "a\nb\t\"c\" \\n \u00e9"' '\n B = "$${HOME} ${NOMAD_TASK_DIR}"\n}')
    assert t.env["A"] == 'a\nb\t"c" \\n é'
    assert t.env["B"] == "${HOME} ${NOMAD_TASK_DIR}"


def test_nested_config_blocks_are_lists_like_nomads_block_list() -> None:
    t = task_of('config {\n image = "x"\n port_map { http = 8080 }\n'
                ' mount { type = "bind" }\n mount { type = "tmpfs" }\n labels = { a = "b" }\n}')
    assert t.config == {"image": "x", "port_map": [{"http": 8080}],
                        "mount": [{"type": "bind"}, {"type": "tmpfs"}], "labels": {"a": "b"}}


def test_distinct_hosts_false_drops_the_constraint_in_hcl1_only() -> None:
    text = ('job "j" {\n constraint { distinct_hosts = false }\n group "g" {\n'
            ' task "t" { driver = "exec" }\n }\n}\n')
    assert nl.parse_job(text, hcl1=True).constraints == []
    kept = nl.parse_job(text).constraints  # HCL2 (jobspec2) keeps it, RTarget "false"
    assert [(c.operand, c.ltarget, c.rtarget) for c in kept] == [("distinct_hosts", "", "false")]


def test_disconnect_volume_mount_and_check_restart_defaults() -> None:
    group_hcl = ('disconnect { lost_after = "1h" }\n volume "data" {\n type = "host"\n'
                 ' source = "data"\n }\n network {\n port "http" {}\n }\n'
                 ' service {\n port = "http"\n check_restart { limit = 3 }\n'
                 ' check {\n type = "tcp"\n interval = "10s"\n timeout = "2s"\n'
                 ' check_restart { grace = "20s" }\n }\n }')
    job = nl.parse_job(f'job "j" {{\n group "g" {{\n {group_hcl}\n task "t" {{\n driver = "exec"\n'
                       ' volume_mount {\n volume = "data"\n destination = "/data"\n }\n }\n }\n}\n')
    group = job.task_groups[0]
    assert (group.disconnect.replace, group.disconnect.reconcile) == (True, "best_score")
    mount = group.tasks[0].volume_mounts[0]
    assert (mount.read_only, mount.propagation_mode) == (False, "private")
    restart = group.services[0].checks[0].check_restart
    assert (restart.limit, restart.grace) == (3, 20 * SECOND)
    assert group.services[0].check_restart.grace == SECOND


def test_whole_floats_in_maps_are_written_like_go() -> None:
    assert task_of('meta {\n big = 1e3\n ratio = 0.5\n}').meta == {"big": "1000", "ratio": "0.5"}


def test_file_artifact_default_destination_is_gos_path_base() -> None:
    t = task_of('artifact {\n source = "https://example.com/bin/tool?archive=false"\n'
                ' mode = "file"\n}\nartifact { source = "https://example.com/dir/" }')
    assert [a.relative_dest for a in t.artifacts] == ["local/tool?archive=false", "local/"]


def test_a_misspelled_key_is_not_also_reported_as_missing() -> None:
    try:
        nl.parse_job('job "j" {\n group "g" {\n task "t" {\n drivr = "exec"\n }\n }\n}\n')
    except nl.JobSpecError as err:
        assert [p.message.split(";")[0] for p in err.problems] == \
            ['unknown key "drivr" in task "t"']
    else:
        raise AssertionError("a task without a driver parsed")
