"""import_sales FILE: purchase history from a previous system (loyalty.services.sales_import)."""

from loyalty.services.sales_import import sales_import
from members.imports.command import ImportCommand
from stores.roles import Action


class Command(ImportCommand):
    help = (
        "Import purchase history from a CSV file (UTF-8 with or without BOM, or GBK; Chinese or English "
        "headers: 小票号, 手机号, 门店编码, 消费时间, 实付金额 and optionally 品类, 数量, 商品金额, 商品编码), "
        "one row per receipt or per line of a receipt. Idempotent by receipt number; fills the purchase "
        "statistics that tiers and analytics use; awards points only with --award-points. All or nothing unless "
        "--skip-bad-rows (a receipt with a bad row is rejected whole). Exits 1 when the file is refused or "
        "rows are rejected."
    )
    action = Action.IMPORT_HISTORY
    actor_required = True
    what = "purchase history"
    counted = {"created": "sales created", "updated": "", "unchanged": "sales imported before (unchanged)"}

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--award-points",
            action="store_true",
            help="give members the points these sales earn under today's earning rules (default: none)",
        )

    def import_options(self, options: dict) -> dict:
        return {"award_points": options["award_points"]}

    def run_import(self, **arguments):
        return sales_import(**arguments)
