"""Annotation types beyond choices and text: images, boxes, polygons, spans, transcription and
preference pairs. Each type is one module implementing `base.AnnotationType`; `registry.TYPES`
maps a question type to its module. Pure code (numpy, Pillow): no models, no queries, so the
schema, the hot path, the quality engine and the benchmarks all call the very same functions."""
