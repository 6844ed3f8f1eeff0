"""System Asset Events: the built-in registration kind `system_asset` and its payload model."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)

from eventrelay.validation import validation_problems

NonNegativeCount = Annotated[StrictInt, Field(ge=0)]
RequiredText = Annotated[StrictStr, Field(min_length=1, max_length=1024)]
OptionalText = Annotated[StrictStr, Field(max_length=4096)] | None
REFUSED_ASSET_TYPES = frozenset({"COLLECTION_MASTER"})
ASSET_TYPES = ("OBJECTS", "RULES", "DD")


def _asset_type(value: Any) -> Any:
    # The original product's documents spell these `Objects/Rules/DD`: any case is accepted (the
    # payload travels on as it was sent; only the check is case-insensitive).
    if isinstance(value, str) and value.upper() in ASSET_TYPES:
        return value.upper()
    return value


AssetType = Annotated[Literal["OBJECTS", "RULES", "DD"], BeforeValidator(_asset_type)]


class SystemAssetEvent(BaseModel):
    """The body of a System Asset Event. Unknown fields are kept; every known one is typed."""

    model_config = ConfigDict(extra="allow", strict=True)

    tenantId: RequiredText
    assetType: AssetType
    assetId: RequiredText
    operation: Literal["INSERT", "UPDATE", "UPSERT", "DELETE"]
    operationType: Literal["DATA", "METADATA"] | None = None
    objectType: OptionalText = None
    objectName: OptionalText = None
    consumer: OptionalText = None
    dbCollectionName: OptionalText = None
    dataStoreType: OptionalText = None
    status: OptionalText = None
    bucketName: OptionalText = None
    successFilePath: OptionalText = None
    errorFilePath: OptionalText = None
    errorMessage: OptionalText = None
    jobId: OptionalText = None
    requestId: OptionalText = None
    consumerProperties: dict[str, Any] | None = None
    recordCount: NonNegativeCount | None = None
    successCount: NonNegativeCount | None = None
    errorCount: NonNegativeCount | None = None
    totalCount: NonNegativeCount | None = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_named_asset_types(cls, data: Any) -> Any:
        asset_type = data.get("assetType") if isinstance(data, dict) else None
        if isinstance(asset_type, str) and asset_type.upper() in REFUSED_ASSET_TYPES:
            raise ValueError(f"assetType {data['assetType']} is not accepted for System Asset Events")
        return data

    @model_validator(mode="after")
    def _counts_are_non_negative_integers(self) -> SystemAssetEvent:
        # Any other field named *Count is a count too: an integer >= 0.
        for name, value in (self.model_extra or {}).items():
            if name.endswith("Count") and not (
                isinstance(value, int) and not isinstance(value, bool) and value >= 0
            ):
                raise ValueError(f"{name} must be an integer >= 0")
        return self


def system_asset_problems(payload: dict[str, Any], header_tenant_id: str) -> list[str]:
    """Each field that fails validation and why; empty when the payload is valid."""
    try:
        event = SystemAssetEvent.model_validate(payload)
    except ValidationError as exc:
        return validation_problems(exc, root="body")
    if event.tenantId != header_tenant_id:
        return ["tenantId: must equal the tenantId header"]
    return []
