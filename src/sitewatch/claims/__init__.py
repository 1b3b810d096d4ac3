"""The claims ledger: public claims about sites, their sources, and what the imagery says."""

from sitewatch.claims.check import STATUSES, Verdict, check_claim
from sitewatch.claims.exchange import (
    claim_dict,
    claimreview,
    claims_csv,
    import_claims,
    read_claims,
    review,
)
from sitewatch.claims.ledger import (
    EXPECTS,
    KINDS,
    ClaimSpec,
    SourceSpec,
    StoredClaim,
    add_claim,
    add_source,
    get_claim,
    list_claims,
    remove_claim,
)

__all__ = [
    "EXPECTS",
    "KINDS",
    "STATUSES",
    "ClaimSpec",
    "SourceSpec",
    "StoredClaim",
    "Verdict",
    "add_claim",
    "add_source",
    "check_claim",
    "claim_dict",
    "claimreview",
    "claims_csv",
    "get_claim",
    "import_claims",
    "list_claims",
    "read_claims",
    "remove_claim",
    "review",
]
