"""import_members FILE: the members import of the back office, from the command line."""

from members.imports.command import ImportCommand
from members.imports.service import members_import
from stores.roles import Action


class Command(ImportCommand):
    help = (
        "Import members from a CSV file (UTF-8 with or without BOM, or GBK; Chinese or English headers; "
        "the admin's template shows them): upsert by normalised phone, tags, home store by code, referrer "
        "by phone; opening points and stored value become ledger entries. All or nothing unless "
        "--skip-bad-rows. Importing the same file again changes nothing. Exits 1 when the file is refused "
        "or rows are rejected."
    )
    action = Action.EDIT_MEMBERS

    def run_import(self, **arguments):
        return members_import(**arguments)
