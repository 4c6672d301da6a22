"""The interleaved source's stages, in build order: read, extract, filter, dedup, decontam,
images. Each module is one Beam stage with its pure core beside it."""
