"""Filter cores: pure classes with declared reason codes (text quality, repetition, language,
near-duplicate signatures), wrapped by Beam stages in pipeline/. No Beam imports here.

Not written yet: the build applies only M3W's own image and page rules, which live in
scrapers/images.py (image size, aspect, decode checks) and pipeline/image_stage.py (pages left
without images)."""
