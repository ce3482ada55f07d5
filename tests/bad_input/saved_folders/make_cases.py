"""Write the saved-folder cases (``python tests/bad_input/saved_folders/make_cases.py``): a
folder saved from a tiny trained model, then one damage per case.  ``setup`` lines are done by
the test at run time, for what git cannot hold (a FIFO) or must not depend on the checkout
(``/dev/zero``, sizes): ``fifo PATH``, ``dir PATH``, ``link PATH TARGET``, ``pad PATH BYTES``.
After running it, write each ``expected`` with ``LAGDSL_REGOLD=1`` and read it by hand."""
import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", ".."))

import lagdsl  # noqa: E402
from lagdsl.backends.pinn.results import save_fields  # noqa: E402


def base(dst: str) -> None:
    m = lagdsl.load(os.path.join(HERE, "..", "..", "..", "examples", "poisson1d.lag"))
    r = m.solve("pinn", epochs=5, lbfgs=0, points=16, boundary_points=2, width=3, depth=1, seed=0)
    save_fields(r, m.ir, dst)
    os.remove(os.path.join(dst, "model.json"))       # load_fields does not read it


def config(case, edit, raw=None):
    path = os.path.join(HERE, case, "saved", "fields.json")
    if raw is not None:
        text = open(path).read()
        open(path, "w").write(raw(text))
        return
    doc = json.load(open(path))
    edit(doc)
    open(path, "w").write(json.dumps(doc, indent=1) + "\n")


def weights(case, edit):
    path = os.path.join(HERE, case, "saved", "weights.pt")
    states = torch.load(path, weights_only=True)
    new = edit(states)
    torch.save(states if new is None else new, path)


def fill(states, name, value):
    """Set every value of the tensor ``name`` of field u (in place; returns None)."""
    states["u"][name].fill_(value)


def setup(case, *lines):
    open(os.path.join(HERE, case, "setup"), "w").write("\n".join(lines) + "\n")


def main():
    tmp = os.path.join(HERE, "_base")
    shutil.rmtree(tmp, ignore_errors=True)
    base(tmp)
    cases = {}

    def case(name, fn):
        cases[name] = fn

    u = lambda doc: doc["fields"]["u"]                                       # noqa: E731
    case("fifo_config", lambda c: setup(c, "fifo saved/fields.json"))
    case("dev_zero_config", lambda c: setup(c, "link saved/fields.json /dev/zero"))
    case("dev_zero_weights", lambda c: setup(c, "link saved/weights.pt /dev/zero"))
    case("link_out_of_folder", lambda c: (shutil.copy(os.path.join(tmp, "weights.pt"), os.path.join(HERE, c, "outside.pt")),
                                          setup(c, "link saved/weights.pt ../outside.pt")))
    case("directory_config", lambda c: setup(c, "dir saved/fields.json"))
    case("config_too_large", lambda c: setup(c, "pad saved/fields.json 17000000"))
    case("weights_too_large", lambda c: setup(c, "pad saved/weights.pt 2000000"))
    case("width_1e9", lambda c: config(c, lambda d: u(d).update(width=1e9)))
    case("activation_class", lambda c: config(c, lambda d: u(d).update(activation="__class__")))
    case("nan_box", lambda c: config(c, None, lambda t: t.replace("0.0,", "NaN,", 1)))
    case("huge_box", lambda c: config(c, lambda d: u(d).update(box=[[-1e308, 1e308]])))
    case("unknown_key", lambda c: config(c, lambda d: u(d).update(evil="__import__('os')")))
    case("depth_negative", lambda c: config(c, lambda d: u(d).update(depth=-1)))
    case("periodic_unknown", lambda c: config(c, lambda d: u(d).update(periodic=["y"])))
    case("wrong_format", lambda c: config(c, lambda d: d.update(format="lagdsl-pinn-fields/9")))
    case("width_disagrees", lambda c: config(c, lambda d: u(d).update(width=4)))
    case("weights_nan", lambda c: weights(c, lambda s: fill(s, "mlp.0.weight", float("nan"))))
    case("weights_span", lambda c: weights(c, lambda s: fill(s, "span", 0.0)))
    case("weights_no_field", lambda c: weights(c, lambda s: {"v": s["u"]}))
    case("weights_pickle", lambda c: weights(c, lambda s: {"u": os.system}))
    case("weights_not_zip", lambda c: open(os.path.join(HERE, c, "saved", "weights.pt"), "wb").write(b"\x80\x02garbage"))
    case("weights_cut", lambda c: open(os.path.join(HERE, c, "saved", "weights.pt"), "r+b").truncate(200))
    for name, fn in cases.items():
        d = os.path.join(HERE, name)
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(tmp, os.path.join(d, "saved"))
        fn(name)
    shutil.copytree(tmp, os.path.join(HERE, "..", "..", "data", "saved_poisson1d"), dirs_exist_ok=True)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
