"""Constraint operands, with the test vectors of Nomad's feasible_test.go, hashicorp/go-version
constraint_test.go and Nomad's helper/constraints/semver tests."""

import pytest

from nodes import make_node
from nomadlab.scheduler.constraints import (check_constraint, constraint_key,
                                            explain_constraint, parse_version, regexp_for,
                                            semver_constraint, version_constraint)
from nomadlab.structs import Constraint


def check(op, lval, rval):
    return check_constraint(op, lval, rval, lval is not None, rval is not None)


# TestCheckConstraint
@pytest.mark.parametrize("op,lval,rval,result", [
    ("=", "foo", "foo", True),
    ("is", "foo", "foo", True),
    ("==", "foo", "foo", True),
    ("==", "foo", None, False),
    ("==", None, "foo", False),
    ("==", None, None, False),
    ("!=", "foo", "foo", False),
    ("!=", "foo", "bar", True),
    ("!=", None, "foo", True),
    ("!=", "foo", None, True),
    ("!=", None, None, False),
    ("not", "foo", "bar", True),
    ("version", "1.2.3", "~> 1.0", True),
    ("version", None, "~> 1.0", False),
    ("regexp", "foobarbaz", r"[\w]+", True),
    ("regexp", None, r"[\w]+", False),
    ("<", "foo", "bar", False),
    ("<", None, "bar", False),
    ("set_contains", "foo,bar,baz", "foo,  bar  ", True),
    ("set_contains", "foo,bar,baz", "foo,bam", False),
    ("is_set", "foo", None, True),
    ("is_set", None, None, False),
    ("is_not_set", None, None, True),
    ("is_not_set", "foo", None, False),
    ("distinct_hosts", None, None, True),
    ("distinct_property", None, None, True),
    ("no_such_operand", "a", "a", False),
])
def test_check_constraint(op, lval, rval, result):
    assert check(op, lval, rval) is result


# TestCheckOrder, plus integer/float/lexical fallbacks
@pytest.mark.parametrize("op,lval,rval,result", [
    ("<", "bar", "foo", True),
    ("<=", "foo", "foo", True),
    (">", "bar", "foo", False),
    (">=", "bar", "bar", True),
    (">", "1", "foo", False),
    ("<", "10", "1", False),
    ("<", "1", "10", True),
    ("<", "10.5", "1.5", False),
    ("<", "1.5", "10.5", True),
    (">=", "8192", "4096", True),
    ("<", "9", "10", True),        # numerically, not lexically
    ("<", " 9", "10", True),       # Go's ParseInt rejects the space: lexical " 9" < "10"
    ("<", "1_000", "2", True),     # no underscores in Go's base-10 ParseInt: lexical
    ("<", "-5", "3", True),
    ("<", "1e400", "2", True),     # out of float range in Go: lexical
])
def test_check_order(op, lval, rval, result):
    assert check(op, lval, rval) is result


def test_order_needs_strings():
    assert check_constraint("<", 1, "2", True, True) is False


# TestCheckVersionConstraint
@pytest.mark.parametrize("lval,rval,result", [
    ("1.2.3", "~> 1.0", True),
    ("1.2.3", ">= 1.0, < 1.4", True),
    ("2.0.1", "~> 1.0", False),
    ("1.4", ">= 1.0, < 1.4", False),
    (1, "~> 1.0", True),
    ("1.3.0-beta1", ">= 0.6.1", False),      # pre-releases are never > final releases
    ("1.7.0-alpha1", ">= 1.6.0-beta1", False),  # pre-release X.Y.Z must match
    ("1.3.0-beta1+ent", "= 1.3.0-beta1", True),  # meta is ignored
    ("not-a-version", ">= 1.0", False),
    ("1.2.3", ">= 1.x", False),              # malformed constraint
])
def test_version(lval, rval, result):
    assert check_constraint("version", lval, rval, True, True) is result


# go-version constraint_test.go TestConstraintCheck
@pytest.mark.parametrize("constraint,version,result", [
    (">= 1.0, < 1.2", "1.1.5", True),
    ("< 1.0, < 1.2", "1.1.5", False),
    ("= 1.0", "1.1.5", False),
    ("= 1.0", "1.0.0", True),
    ("1.0", "1.0.0", True),
    ("~> 1.0", "2.0", False),
    ("~> 1.0", "1.1", True),
    ("~> 1.0", "1.2.3", True),
    ("~> 1.0.0", "1.2.3", False),
    ("~> 1.0.0", "1.0.7", True),
    ("~> 1.0.0", "1.1.0", False),
    ("~> 1.0.7", "1.0.4", False),
    ("~> 1.0.7", "1.0.7", True),
    ("~> 1.0.7", "1.0.8", True),
    ("~> 1.0.7", "1.0.7.5", True),
    ("~> 1.0.7", "1.0.6.99", False),
    ("~> 1.0.7", "1.0.8.0", True),
    ("~> 1.0.9.5", "1.0.9.5", True),
    ("~> 1.0.9.5", "1.0.9.4", False),
    ("~> 1.0.9.5", "1.0.9.6", True),
    ("~> 1.0.9.5", "1.0.9.5.0", True),
    ("~> 1.0.9.5", "1.0.9.5.1", True),
    ("~> 2.0", "2.1.0-beta", False),
    ("~> 2.1.0-a", "2.2.0", False),
    ("~> 2.1.0-a", "2.1.0", False),
    ("~> 2.1.0-a", "2.1.0-beta", True),
    ("~> 2.1.0-a", "2.2.0-alpha", False),
    ("> 2.0", "2.1.0-beta", False),
    (">= 2.1.0-a", "2.1.0-beta", True),
    (">= 2.1.0-a", "2.1.1-beta", False),
    (">= 2.0.0", "2.1.0-beta", False),
    (">= 2.1.0-a", "2.1.1", True),
    (">= 2.1.0-a", "2.1.0", True),
    ("<= 2.1.0-a", "2.0.0", True),
])
def test_go_version_constraints(constraint, version, result):
    assert version_constraint(constraint)(parse_version(version)) is result


@pytest.mark.parametrize("text,ok", [
    (">= 1.2", True), ("1.0", True), (">= 1.x", False), (">= 1.2, < 1.0", True),
    ("11387778780781445675529500000000000000000", False), ("~> 1.2", True), ("", False),
])
def test_version_constraint_parsing(text, ok):
    assert (version_constraint(text) is not None) is ok


# TestCheckSemverConstraint
@pytest.mark.parametrize("lval,rval,result", [
    ("1.2.3", "~> 1.0", False),
    ("1.2.3", ">= 1.0, < 1.4", True),
    ("2.0.1", "~> 1.0", False),
    ("1.4", ">= 1.0, < 1.4", False),
    (1, "~> 1.0", False),
    ("1.3.0-beta1", ">= 0.6.1", True),
    ("1.7.0-alpha1", ">= 1.6.0-beta1", True),
    ("1.7.0-beta", ">= 1.7.0", False),
    ("1.7.0", ">= 1.7.0-dev", True),
    ("1.7.0-beta.1", ">= 1.7.0-a", True),
    ("1.7.0-rc.1", ">= 1.7.0-dev", True),
    ("1.3.0-beta1+ent", "= 1.3.0-beta1", True),
])
def test_semver(lval, rval, result):
    assert check_constraint("semver", lval, rval, True, True) is result


# helper/constraints/semver TestNewConstraint and TestConstraintCheck
@pytest.mark.parametrize("text,ok", [
    (">= 1.2", True), ("1.0", True), (">= 1.x", False), (">= 1.2, < 1.0", True),
    ("11387778780781445675529500000000000000000", False), (">= 1.0beta1", False),
    ("~> 1.0", False),
])
def test_semver_constraint_parsing(text, ok):
    assert (semver_constraint(text) is not None) is ok


@pytest.mark.parametrize("constraint,version,result", [
    (">= 1.0, < 1.2", "1.1.5", True),
    ("< 1.0, < 1.2", "1.1.5", False),
    ("= 1.0", "1.1.5", False),
    ("= 1.0", "1.0.0", True),
    ("1.0", "1.0.0", True),
    ("> 10", "8", False),
    ("> 2.0", "2.1.0-beta", True),
    ("> 2.1.0-a", "2.1.0-beta", True),
    ("> 2.1.0-a", "2.1.1-beta", True),
    ("> 2.0.0", "2.1.0-beta", True),
    ("> 2.1.0-a", "2.1.1", True),
    ("> 2.1.0-a", "2.1.0", True),
    ("<= 2.1.0-a", "2.0.0", True),
    (">= 0.6.1", "1.3.0-beta1", True),
    ("> 1.0-beta1", "1.0-rc1", True),
    (">= 0.6.1", "1.3.0-beta1+ent", True),
    (">= 1.3.0-beta1", "1.3.0-beta1+ent", True),
    ("> 1.3.0-beta1+cgo", "1.3.0-beta1+ent", False),
    ("= 1.3.0-beta1+cgo", "1.3.0-beta1+ent", True),
])
def test_semver_constraints(constraint, version, result):
    assert semver_constraint(constraint)(parse_version(version)) is result


def test_version_parsing():
    v = parse_version("v1.2-beta.1+ent")
    assert (v.segments, v.pre, v.metadata, v.specified) == ((1, 2, 0), "beta.1", "ent", 2)
    assert parse_version("1.0beta1").pre == "beta1"   # go-version is lenient, semver is not
    assert parse_version("1.2.3\n") is None
    assert parse_version(" 1.2.3") is None


# TestCheckRegexpConstraint
@pytest.mark.parametrize("lval,rval,result", [
    ("foobar", "bar", True),
    ("foobar", "^foo", True),
    ("foobar", "^bar", False),
    ("zipzap", "foo", False),
    (1, "foo", False),
    ("foo", "(", False),
])
def test_regexp(lval, rval, result):
    assert check_constraint("regexp", lval, rval, True, True) is result


def test_regexps_are_cached():
    assert regexp_for("^a+$") is regexp_for("^a+$")
    assert regexp_for("(") is None


@pytest.mark.parametrize("op,lval,rval,result", [
    ("set_contains_all", "a, b ,c", "c,a", True),
    ("set_contains_all", "a,b", "a,d", False),
    ("set_contains_any", "a,b", "d, b", True),
    ("set_contains_any", "a,b", "d,e", False),
    ("set_contains_any", None, "a", False),
])
def test_sets(op, lval, rval, result):
    assert check(op, lval, rval) is result


def test_constraint_key_is_nomads_string():
    assert constraint_key(Constraint(ltarget="${attr.kernel.name}", rtarget="linux",
                                     operand="=")) == "${attr.kernel.name} = linux"
    assert constraint_key(Constraint(ltarget="${attr.foo}", operand="is_set")) == \
        "${attr.foo} is_set "


def test_explain_failure_and_success():
    node = make_node("n1", attrs={"kernel.name": "freebsd"})
    bad = explain_constraint(Constraint(ltarget="${attr.kernel.name}", rtarget="linux",
                                        operand="="), node)
    assert not bad.passed
    assert (bad.node_id, bad.node_name, bad.lvalue, bad.rvalue) == (node.id, "n1", "freebsd",
                                                                    "linux")
    assert bad.reason == '${attr.kernel.name} is "freebsd", not "linux"'
    assert bad.key == "${attr.kernel.name} = linux"
    good = explain_constraint(Constraint(ltarget="${attr.cpu.arch}", rtarget="amd64"), node)
    assert good.passed and good.reason == '"amd64" = "amd64"'


def test_explain_undefined_target():
    node = make_node("n1")
    missing = explain_constraint(Constraint(ltarget="${meta.rack}", rtarget="r1"), node)
    assert not missing.passed and missing.lvalue is None
    assert missing.reason == "${meta.rack} is not set on this node"
    # Nomad compares Go's "" for an unset target: `!= ""` fails, `!= r1` holds
    assert not explain_constraint(Constraint(ltarget="${meta.rack}", rtarget="",
                                             operand="!="), node).passed
    assert explain_constraint(Constraint(ltarget="${meta.rack}", rtarget="r1",
                                         operand="!="), node).passed


def test_explain_version_reasons():
    node = make_node("n1", attrs={"nomad.version": "1.4.0"})
    r = explain_constraint(Constraint(ltarget="${attr.nomad.version}", rtarget=">= 1.5",
                                      operand="version"), node)
    assert not r.passed and r.reason == 'version "1.4.0" does not satisfy ">= 1.5"'
    r = explain_constraint(Constraint(ltarget="${attr.nomad.version}", rtarget="~> 1.4",
                                      operand="semver"), node)
    assert not r.passed and r.reason == '"~> 1.4" is not a valid semver constraint'


@pytest.mark.parametrize("a,b,result", [
    ("1.0.7", "1.0.7.5", -1), ("1.0.7.5", "1.0.7", 1), ("1.2", "1.2.0.0", 0),
    ("1.2.0.0", "1.2", 0), ("1.0.0-beta.2", "1.0.0-beta.11", -1), ("1.0.0-beta", "1.0.0-1", 1),
    ("1.0.0-alpha", "1.0.0-alpha.1", -1), ("1.0.0", "1.0.0-rc1", 1), ("1.0+a", "1.0+b", 0),
])
def test_version_compare(a, b, result):
    assert parse_version(a).compare(parse_version(b)) == result
