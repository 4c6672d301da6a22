"""What a build costs before its first record (pipeline.beam_startup): Beam's state and timer
specs read once per DoFn class, options views made once, and no graph-time type inference
(pipeline.run.pipeline_options)."""

from __future__ import annotations

import pickle

import apache_beam as beam
from apache_beam.coders import VarIntCoder
from apache_beam.options.pipeline_options import StandardOptions, TypeOptions
from apache_beam.transforms import userstate
from apache_beam.transforms.userstate import BagStateSpec

import pipeline  # noqa: F401  (installs the cache)
from pipeline import beam_startup
from pipeline.build import build_graph
from pipeline.config import load_config
from pipeline.run import pipeline_options

uncached = userstate.get_dofn_specs.uncached
BAG = BagStateSpec("seen", VarIntCoder())


class _Stateful(beam.DoFn):
    def process(self, kv, seen=beam.DoFn.StateParam(BAG)):
        seen.add(kv[1])
        yield kv


class _Plain(beam.DoFn):
    def process(self, x):
        yield x


def _with_state(kv, seen=beam.DoFn.StateParam(BAG)):
    return kv


def test_the_cache_is_what_beam_calls():
    assert getattr(userstate.get_dofn_specs, "_m3w_cached", False)
    beam_startup.cache_dofn_specs()  # a second install keeps the one cache
    assert userstate.get_dofn_specs.uncached is uncached


def test_stateful_and_plain_classes_keep_their_specs():
    for _ in range(2):  # the second lookup comes from the cache
        assert userstate.get_dofn_specs(_Stateful()) == ({BAG}, set())
        assert userstate.is_stateful_dofn(_Stateful())
        assert not userstate.is_stateful_dofn(_Plain())


def test_a_wrapped_function_with_defaults_is_read_itself():
    """Every beam.Map shares one class; only functions without defaults share its specs (Beam
    may read a function's defaults as parameters, so one with defaults is never cached)."""
    plain = beam.Map(lambda x: x).fn
    with_state = beam.Map(_with_state).fn
    assert beam_startup.class_key(plain) is type(plain)
    assert beam_startup.class_key(with_state) is None
    assert userstate.get_dofn_specs(plain) == (set(), set())
    assert userstate.get_dofn_specs(with_state) == uncached(with_state)


def test_an_instance_with_its_own_method_is_read_itself():
    odd = _Plain()
    odd.process = _Stateful().process
    assert beam_startup.class_key(odd) is None
    assert userstate.get_dofn_specs(odd) == ({BAG}, set())


def _build_dofns(tmp_path) -> list:
    """The DoFn of every ParDo in the real build graph."""
    cfg = load_config(overrides={"sources": {"interleaved": {"input": [str(tmp_path / "x")]}}})
    p = beam.Pipeline(options=pipeline_options([]))
    build_graph(p, cfg, str(tmp_path / "out"))
    fns = []

    class Visit(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node):
            if isinstance(node.transform, beam.ParDo):
                fns.append(node.transform.fn)

    p.visit(Visit())
    return fns


def test_every_dofn_of_the_build_gets_beams_own_answer(tmp_path):
    """Guards a Beam upgrade: the cache must agree with Beam's lookup on the real graph."""
    fns = _build_dofns(tmp_path)
    assert len(fns) > 100
    for fn in fns:
        assert userstate.get_dofn_specs(fn) == uncached(fn), fn


def test_build_options_skip_type_inference_and_keep_the_users_runner():
    local = pipeline_options(["--direct_num_workers=2"])
    assert local.view_as(TypeOptions).pipeline_type_check is False
    assert local.view_as(StandardOptions).runner == "FnApiRunner"
    assert pipeline_options(["--runner=DirectRunner"]).view_as(StandardOptions).runner == \
        "DirectRunner"


def test_options_make_each_view_once_and_views_share_one_table():
    opts = pipeline_options([])
    assert opts.view_as(TypeOptions) is opts.view_as(TypeOptions)
    std = opts.view_as(StandardOptions)
    std.runner = "DirectRunner"  # written through one view, read through a new object's
    assert pipeline_options([]).view_as(StandardOptions).runner == "FnApiRunner"
    assert opts.view_as(StandardOptions).runner == "DirectRunner"
    assert opts.get_all_options()["runner"] == "DirectRunner"
    back = pickle.loads(pickle.dumps(opts))  # what a worker process receives
    assert back.view_as(StandardOptions).runner == "DirectRunner"
    assert back.view_as(TypeOptions).pipeline_type_check is False


def test_argument_lists_are_beams_own_and_follow_replaced_defaults():
    from apache_beam.transforms import core

    uncached_args = core.get_function_args_defaults.uncached

    def f(a, b=1, *, c=2):
        return a

    for fn in (f, _Stateful().process, _Plain().process, _with_state, lambda x, y=3: x):
        for _ in range(2):  # the second answer comes from the cache
            assert core.get_function_args_defaults(fn) == uncached_args(fn)
    got = core.get_function_args_defaults(f)
    got[0].append("changed")  # a caller's copy: the cache is untouched
    assert core.get_function_args_defaults(f) == (["a", "b"], [1])
    f.__defaults__ = (5,)
    assert core.get_function_args_defaults(f) == (["a", "b"], [5])


def test_every_dofn_method_of_the_build_gets_beams_own_arguments(tmp_path):
    """Guards a Beam upgrade: each method Beam inspects gets the uncached answer."""
    from apache_beam.transforms import core

    uncached_args = core.get_function_args_defaults.uncached
    fns = _build_dofns(tmp_path)
    checked = 0
    for fn in fns:
        for name in ("process", "setup", "start_bundle", "finish_bundle", "teardown"):
            method = getattr(fn, name)
            assert core.get_function_args_defaults(method) == uncached_args(method), (fn, name)
            checked += 1
    assert checked > 500
