"""The pair sources: alt_text, image_text and video_text. `pipeline.sources.pairs` wires them
into a build; `common` holds what they share."""
