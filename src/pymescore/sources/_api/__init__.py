"""Bank and open-finance API sources: OAuth2 client credentials, paging, incremental sync into the lake.

``load_institutions`` reads the TOML file (``docs/sources-api.md``); ``sync_institution`` syncs one
institution's resources through the contracts and the quarantine.
"""

from pymescore.sources._api._client import ApiClient, ApiSourceError
from pymescore.sources._api._config import Institution, Resource, institution, load_institutions
from pymescore.sources._api._sync import ResourceSync, stored_watermark, sync_institution

__all__ = [
    "ApiClient",
    "ApiSourceError",
    "Institution",
    "Resource",
    "ResourceSync",
    "institution",
    "load_institutions",
    "stored_watermark",
    "sync_institution",
]
