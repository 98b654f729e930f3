"""The one place where mlgate writes CycloneDX 1.6 fields that cyclonedx-python-lib lacks.

cyclonedx-python-lib 11 knows the ``machine-learning-model`` and ``data`` component types but
has no ``modelCard`` (on the model) and no ``data`` (on data components) fields. mlgate builds
those two fields once, in their JSON shape (``MlFields``), and this module writes them into the
library's output:

- JSON: ``add_to_json`` sets ``components[].modelCard`` / ``components[].data``;
- XML: ``add_to_xml`` converts the same values to elements of the 1.6 namespace
  (``http://cyclonedx.org/schema/bom/1.6``) with the XSD's element order and its
  plural-wrapper / singular-item convention (``inputs/input``, ``performanceMetrics/
  performanceMetric``...), and inserts them where the component's XSD sequence wants them
  (``modelCard`` and ``data`` come after ``releaseNotes`` and before ``cryptoProperties`` and
  ``tags``).

Every document is then validated as a whole against the official 1.6 schema (build.py). A key
this module does not know is a bug and raises, so nothing is silently dropped from the XML.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # only ever parses mlgate's own (library-made) XML
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlgate.core.errors import ToolError

NS = "http://cyclonedx.org/schema/bom/1.6"
_Q = "{" + NS + "}"

# element order of the 1.6 XSD for the parents mlgate writes (JSON object key -> element)
_ORDER: dict[str, tuple[str, ...]] = {
    "modelCard": ("modelParameters", "quantitativeAnalysis", "considerations"),
    "modelParameters": ("approach", "task", "architectureFamily", "modelArchitecture",
                        "datasets", "inputs", "outputs"),
    "approach": ("type",),
    "input": ("format",),
    "output": ("format",),
    "quantitativeAnalysis": ("performanceMetrics",),
    "performanceMetric": ("type", "value", "slice"),
    "considerations": ("users", "useCases", "technicalLimitations", "performanceTradeoffs"),
    "data": ("type", "name", "contents", "classification", "description"),
    "dataset": ("type", "name", "contents", "classification", "description"),
    "contents": ("url",),
}
# JSON array -> XML wrapper element with one child per item (None: the item says its name)
_ITEM: dict[str, str | None] = {
    "datasets": None,
    "inputs": "input",
    "outputs": "output",
    "performanceMetrics": "performanceMetric",
    "users": "user",
    "useCases": "useCase",
    "technicalLimitations": "technicalLimitation",
    "performanceTradeoffs": "performanceTradeoff",
}
# component children that come after modelCard / data in the XSD sequence
_AFTER: dict[str, frozenset[str]] = {
    "modelCard": frozenset({"data", "cryptoProperties", "tags"}),
    "data": frozenset({"cryptoProperties", "tags"}),
}


@dataclass(frozen=True)
class MlFields:
    """``modelCard`` of the component ``model_ref`` and ``data`` lists by component bom-ref,
    in their JSON shape."""

    model_ref: str = "model"
    model_card: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)


def add_to_json(doc: dict[str, Any], fields: MlFields) -> None:
    for comp in doc.get("components", []):
        ref = comp.get("bom-ref")
        if ref == fields.model_ref and fields.model_card:
            comp["modelCard"] = _plain(fields.model_card)
        if fields.data.get(ref):
            comp["data"] = _plain(list(fields.data[ref]))


def add_to_xml(xml_text: str, fields: MlFields, *, serial_number: str | None = None,
               first_ref: str | None = None) -> str:
    """The library's XML with ``modelCard`` / ``data`` added (and, optionally, the serial
    number set and the component ``first_ref`` moved first, as in the JSON)."""
    ET.register_namespace("", NS)
    # a non-UTF-8 file name is a lone surrogate: keep it as its \u escape, readable text
    xml_text = xml_text.encode("utf-8", "backslashreplace").decode("utf-8")
    root = ET.fromstring(xml_text)  # noqa: S314 -- our own XML, made by the library just now
    if root.tag != _Q + "bom":
        raise ToolError(f"unexpected XML root {root.tag!r} from cyclonedx-python-lib")
    if serial_number:
        root.set("serialNumber", serial_number)
    comps = root.find(_Q + "components")
    if comps is not None and first_ref:
        children = list(comps)
        children.sort(key=lambda c: c.get("bom-ref") != first_ref)
        comps[:] = children
    for comp in root.iter(_Q + "component"):
        ref = comp.get("bom-ref")
        if ref == fields.model_ref and fields.model_card:
            _insert(comp, [_element("modelCard", fields.model_card)])
        if ref is not None and fields.data.get(ref):
            _insert(comp, [_element("data", item) for item in fields.data[ref]])
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _insert(comp: ET.Element, new: list[ET.Element]) -> None:
    local = new[0].tag[len(_Q):]
    after = _AFTER[local]
    children = list(comp)
    at = next((i for i, c in enumerate(children)
               if not c.tag.startswith(_Q) or c.tag[len(_Q):] in after), len(children))
    for offset, el in enumerate(new):
        comp.insert(at + offset, el)


def _element(tag: str, value: Any) -> ET.Element:
    el = ET.Element(_Q + tag)
    if isinstance(value, Mapping):
        order = _ORDER.get(tag)
        if order is None:
            raise ToolError(f"mlgate cannot write <{tag}> as XML yet (a bug: add it to _ORDER)")
        unknown = [k for k in value if k not in order]
        if unknown:
            raise ToolError(f"mlgate cannot write {unknown} under <{tag}> as XML yet (a bug)")
        for key in order:
            if key in value:
                _child(el, key, value[key])
    else:
        el.text = _scalar(value)
    return el


def _child(parent: ET.Element, key: str, value: Any) -> None:
    if isinstance(value, (list, tuple)):
        if key not in _ITEM:
            raise ToolError(f"mlgate cannot write the list {key!r} as XML yet (a bug)")
        wrapper = ET.SubElement(parent, _Q + key)
        item_tag = _ITEM[key]
        for item in value:
            if item_tag is None:  # datasets: a choice of <ref> and <dataset>
                if isinstance(item, Mapping) and set(item) == {"ref"}:
                    wrapper.append(_element("ref", item["ref"]))
                else:
                    wrapper.append(_element("dataset", item))
            else:
                wrapper.append(_element(item_tag, item))
        return
    parent.append(_element(key, value))


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ToolError(f"mlgate cannot write {type(value).__name__} as XML text (a bug)")


def _plain(value: Any) -> Any:
    """Deep copy into plain dicts and lists (what json.dumps writes)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
