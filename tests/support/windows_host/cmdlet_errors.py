"""The one error type of the cmdlet model, shaped like a PowerShell ErrorRecord.

Every refusal in the model (a bad parameter, a missing object, a transport Windows does not allow)
raises :class:`CmdletError`; the executor turns it into the contract's ``error`` object. The texts
follow what PowerShell and the CIM-based SmbShare/NetSecurity cmdlets print, so a test that reads an
error sees what an administrator would see on Windows.
"""

from __future__ import annotations


class CmdletError(Exception):
    """A terminating error from a cmdlet (the executor runs every call with ``-ErrorAction Stop``)."""

    def __init__(self, message: str, category: str, fully_qualified_error_id: str) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.fully_qualified_error_id = fully_qualified_error_id

    def as_record(self) -> dict[str, str]:
        """The contract's ``error`` object."""
        return {
            "message": self.message,
            "category": self.category,
            "fully_qualified_error_id": self.fully_qualified_error_id,
        }


def win32_error(command: str, code: int, message: str, category: str) -> CmdletError:
    """An error from a CIM provider, as the cmdlet-definition (CDXML) cmdlets report it."""
    return CmdletError(message, category, f"Windows System Error {code},{command}")


def invalid_parameter(command: str) -> CmdletError:
    """ERROR_INVALID_PARAMETER, which is what the SMB provider answers for a value it refuses."""
    return win32_error(command, 87, "The parameter is incorrect.", "InvalidArgument")


def not_supported(command: str) -> CmdletError:
    """ERROR_NOT_SUPPORTED."""
    return win32_error(command, 50, "The request is not supported.", "NotImplemented")


def already_exists(command: str) -> CmdletError:
    """ERROR_OBJECT_ALREADY_EXISTS."""
    return win32_error(command, 5010, "The object already exists.", "ResourceExists")


def cim_not_found(command: str, cim_class: str, prop: str, value: object) -> CmdletError:
    """The error a CDXML query cmdlet writes when a non-wildcard filter value matches nothing."""
    return CmdletError(
        f"No {cim_class} objects found with property '{prop}' equal to '{value}'. "
        "Verify the value of the property and retry.",
        "ObjectNotFound",
        f"CmdletizationQuery_NotFound_{prop},{command}",
    )
