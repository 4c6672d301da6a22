"""Pure scraping cores: WARC reading, HTML -> Document, polite fetching, image checks. No Beam."""

from scrapers.extract import Extraction, extract, extract_detailed

__all__ = ["Extraction", "extract", "extract_detailed"]
