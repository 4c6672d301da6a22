"""Records the build produces and the shard layout they are written in. No Beam, no torch."""

from schemas.document import Document, ImageNode, Node, TextNode
from schemas.layout import LAYOUT_VERSION, image_member, make_key
from schemas.pairs import ImageTextPair, VideoTextPair
from schemas.reject import Reject

__all__ = [
    "LAYOUT_VERSION",
    "Document",
    "ImageNode",
    "ImageTextPair",
    "Node",
    "Reject",
    "TextNode",
    "VideoTextPair",
    "image_member",
    "make_key",
]
