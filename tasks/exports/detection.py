"""YOLO and Pascal VOC exports of boxes and polygons: zips streamed member by member.

Both hold one entry per item that has a label (aggregated, or gold), named by a stem made of
the item id and external id (`12-car_0001`), and the uploaded image itself under that stem
(read from storage; never its storage key). Images given by URL are listed in `sources.csv`
(stem, name, URL) for the requester to fetch. Confidence, which neither format has a place
for, goes to `confidence.csv` (YOLO) or a `<confidence>` element per object (VOC readers
ignore unknown elements).

YOLO (`data.yaml`, `labels/<stem>.txt`, `images/`): one line per shape, `class cx cy w h` for
a box, `class x1 y1 x2 y2 ...` for a polygon (YOLO segmentation), coordinates divided by the
image's size and clamped to [0, 1]. An item whose image size is unknown (a URL without
`<field>_width`/`_height`) cannot be normalised and is listed in `skipped.txt`.

VOC (`Annotations/<stem>.xml`, `JPEGImages/`, `ImageSets/Main/default.txt`): boxes in VOC's
1-based pixel convention (`xmin = round(x) + 1`, `xmax = round(x + w)`); a polygon is written
as its bounding box plus its points in a LabelMe-style `<polygon><pt><x/><y/></pt>...`.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET  # noqa: S405 - writing XML, never parsing it
from collections.abc import Iterator, Mapping
from typing import Any

from marketplace.csvsafe import SafeWriter
from tasks.models import Bundle

from .common import (
    ImageRef,
    image_ref,
    label_values,
    plain_number,
    result_rows,
    shape_key,
    shapes,
)
from .zips import Member, zip_stream


def yolo(bundle: Bundle, base_url: str = "") -> Iterator[bytes]:
    return zip_stream(_yolo_members(bundle, base_url))


def voc(bundle: Bundle, base_url: str = "") -> Iterator[bytes]:
    return zip_stream(_voc_members(bundle, base_url))


def _labelled(bundle: Bundle, base_url: str) -> Iterator[tuple[dict, ImageRef, list[dict]]]:
    key = shape_key(bundle.question) or "boxes"
    for row in result_rows(bundle):
        found = shapes(row["label"], key)
        if found is not None:
            yield row, image_ref(row, bundle.question, base_url=base_url), found


class _Sources:
    """Images to fetch by URL: `sources.csv`."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = SafeWriter(self.buffer)
        self.writer.writerow(["file", "name", "url"])
        self.count = 0

    def add(self, ref: ImageRef) -> None:
        self.writer.writerow([ref.file_name, ref.name, ref.url or ""])
        self.count += 1


def _image(ref: ImageRef, folder: str, sources: _Sources) -> Iterator[Member]:
    if ref.storage_key is not None:
        yield (f"{folder}/{ref.file_name}", None, ref.storage_key)
    elif ref.url is not None:
        sources.add(ref)


def _yolo_members(bundle: Bundle, base_url: str) -> Iterator[Member]:
    values = label_values(bundle.question)
    index = {v: n for n, v in enumerate(values)}
    names = "\n".join(f"  {n}: {json.dumps(v, ensure_ascii=False)}" for n, v in enumerate(values))
    title = bundle.title.replace("\n", " ")
    yield ("data.yaml", f"# crowdmarket bundle {bundle.pk}: {title}\npath: .\ntrain: images\n"
                        f"val: images\nnc: {len(values)}\nnames:\n{names}\n", None)  # fmt: skip
    sources, skipped = _Sources(), []
    confidence = io.StringIO()
    confidence_csv = SafeWriter(confidence)
    confidence_csv.writerow(["file", "line", "label", "confidence"])
    for row, ref, found in _labelled(bundle, base_url):
        if ref.size is None:
            skipped.append(f"{ref.stem}\t{ref.name}\timage size unknown")
            continue
        width, height = ref.size
        lines = []
        for shape in found:
            label = str(shape.get("label"))
            if label not in index:
                continue
            coords = _normalised(shape, width, height)
            if coords is None:
                continue
            lines.append(" ".join([str(index[label]), *(f"{c:.6f}" for c in coords)]))
            score = shape.get("confidence", 1.0 if row.get("method") == "gold" else None)
            confidence_csv.writerow([f"labels/{ref.stem}.txt", len(lines), label, score])
        yield (f"labels/{ref.stem}.txt", "".join(line + "\n" for line in lines), None)
        yield from _image(ref, "images", sources)
    yield ("confidence.csv", confidence.getvalue(), None)
    if sources.count:
        yield ("sources.csv", sources.buffer.getvalue(), None)
    if skipped:
        yield ("skipped.txt", "\n".join(skipped) + "\n", None)


def _normalised(shape: Mapping[str, Any], width: int, height: int) -> list[float] | None:
    def fit(value: float, size: int) -> float:
        return min(max(value / size, 0.0), 1.0)

    if "points" in shape:
        points = shape.get("points") or []
        if len(points) < 3:
            return None
        return [fit(float(p[i]), (width, height)[i]) for p in points for i in (0, 1)]
    x, y, w, h = (float(shape[k]) for k in ("x", "y", "w", "h"))
    left, top = fit(x, width), fit(y, height)
    right, bottom = fit(x + w, width), fit(y + h, height)
    return [(left + right) / 2, (top + bottom) / 2, right - left, bottom - top]


def _voc_members(bundle: Bundle, base_url: str) -> Iterator[Member]:
    sources = _Sources()
    stems = []
    for row, ref, found in _labelled(bundle, base_url):
        stems.append(ref.stem)
        yield (f"Annotations/{ref.stem}.xml", _voc_xml(bundle, row, ref, found), None)
        yield from _image(ref, "JPEGImages", sources)
    yield ("ImageSets/Main/default.txt", "".join(f"{s}\n" for s in stems), None)
    if sources.count:
        yield ("sources.csv", sources.buffer.getvalue(), None)


def _voc_xml(bundle: Bundle, row: Mapping[str, Any], ref: ImageRef, found: list[dict]) -> str:
    root = ET.Element("annotation")
    _text(root, "folder", "JPEGImages")
    _text(root, "filename", ref.file_name)
    source = ET.SubElement(root, "source")
    _text(source, "database", "crowdmarket")
    _text(source, "annotation", bundle.title)
    _text(source, "image", ref.name)
    if ref.size is not None:
        size = ET.SubElement(root, "size")
        _text(size, "width", ref.size[0])
        _text(size, "height", ref.size[1])
        _text(size, "depth", 3)
    _text(root, "segmented", int(any("points" in s for s in found)))
    for shape in found:
        if "points" in shape:
            points = [(float(p[0]), float(p[1])) for p in shape.get("points") or []]
            if len(points) < 3:
                continue
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            x, y, w, h = min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)
        else:
            points = []
            x, y, w, h = (float(shape[k]) for k in ("x", "y", "w", "h"))
        obj = ET.SubElement(root, "object")
        _text(obj, "name", shape.get("label"))
        _text(obj, "pose", "Unspecified")
        _text(obj, "truncated", 0)
        _text(obj, "difficult", 0)
        score = shape.get("confidence", 1.0 if row.get("method") == "gold" else None)
        if score is not None:
            _text(obj, "confidence", round(float(score), 4))
        box = ET.SubElement(obj, "bndbox")
        _text(box, "xmin", round(x) + 1)
        _text(box, "ymin", round(y) + 1)
        _text(box, "xmax", max(round(x + w), round(x) + 1))
        _text(box, "ymax", max(round(y + h), round(y) + 1))
        if points:
            polygon = ET.SubElement(obj, "polygon")
            for px, py in points:
                point = ET.SubElement(polygon, "pt")
                _text(point, "x", plain_number(px))
                _text(point, "y", plain_number(py))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=False) + "\n"


def _text(parent: ET.Element, tag: str, value: Any) -> None:
    ET.SubElement(parent, tag).text = "" if value is None else str(value)
