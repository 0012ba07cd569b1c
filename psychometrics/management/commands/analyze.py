from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from psychometrics.services import STEPS, analysis_create, analysis_run
from psychometrics.stats.filtering import REASONS
from surveys.models import Study


class Command(BaseCommand):
    help = (
        "Analyse a study now (synchronously): filter participants with the study's rules, score the PVQ-21 "
        "and BFI-10, correlate every item with every dimension (Spearman) and select items with "
        "|rho| >= threshold and p < alpha. Stores a new analysis and prints participants kept/excluded by "
        "reason and items selected per family."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The study's slug.")
        parser.add_argument(
            "--min-seconds", type=float, default=None,
            help="Minimum completion time in seconds for this run (overrides the study's rule; paper: 360).",
        )
        parser.add_argument("--threshold", type=float, default=None, help="Minimum |rho| to select an item (default: study setting, 0.3).")
        parser.add_argument("--alpha", type=float, default=None, help="Maximum p-value to select an item (default: study setting, 0.05).")
        parser.add_argument("--fdr", action="store_true", default=None, help="Select with Benjamini-Hochberg adjusted p-values.")

    def handle(self, *args, slug, min_seconds, threshold, alpha, fdr, **options):
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"No study with slug {slug!r}.")
        if min_seconds is not None and min_seconds < 0:
            raise CommandError(f"--min-seconds must be 0 or more, got {min_seconds}.")
        if threshold is not None and not 0 <= threshold <= 1:
            raise CommandError(f"--threshold must be between 0 and 1, got {threshold}.")
        if alpha is not None and not 0 < alpha < 1:
            raise CommandError(f"--alpha must be between 0 and 1 (exclusive), got {alpha}.")
        analysis = analysis_create(
            study=study, min_seconds=min_seconds, threshold=threshold, alpha=alpha, fdr=fdr, enqueue=False
        )
        with tqdm(total=len(STEPS), desc=f"analysis {analysis.pk}", unit="step", file=self.stderr._out) as bar:

            def progress(done: int, total: int) -> None:
                bar.update(done - bar.n)

            try:
                analysis = analysis_run(analysis_id=analysis.pk, on_progress=progress)
            except Exception as error:
                raise CommandError(f"Analysis {analysis.pk} failed: {type(error).__name__}: {error}") from error
        self.stdout.write(format_summary(analysis))


def summary_warnings(analysis) -> list[str]:
    """The analysis's warnings: why nothing could be computed, and a data-quality exclusion rate above the limit."""
    warnings = [analysis.warning] if analysis.warning else []
    screening = analysis.summary.get("screening")
    if screening and screening["data_quality"]["warning"]:
        warnings.append(screening["data_quality"]["warning"])
    return warnings


def _percent(share) -> str:
    return "n/a" if share is None else f"{100 * share:.1f} %"


def format_summary(analysis) -> str:
    summary = analysis.summary
    people = summary["participants"]
    lines = [
        f"Analysis {analysis.pk} of study '{analysis.study.slug}' ({analysis.status}): "
        f"threshold |rho| >= {summary['threshold']}, p < {summary['alpha']}" + (" (BH-adjusted)" if summary["fdr"] else ""),
    ]
    lines += [f"WARNING: {warning}" for warning in summary_warnings(analysis)]
    lines.append(f"Participants: {people['considered']} considered, {people['kept']} kept, {people['excluded']} excluded")
    for code, count in people["excluded_by_reason"].items():
        lines.append(f"  excluded, {REASONS.get(code, code)} ({code}): {count}")
    if people["manually_included"]:
        lines.append(f"  included by hand despite the rules or by choice: {people['manually_included']}")
    screening = summary["screening"]
    lines.append(f"Screening: flagged per rule (share of {screening['analysable']} analysable participants)")
    for row in screening["per_rule"]:
        if row["flagged"]:
            kind = ", data quality" if row["data_quality"] else ""
            lines.append(f"  {REASONS.get(row['code'], row['rule'])} ({row['code']}{kind}): {row['flagged']} ({_percent(row['share'])})")
    quality = screening["data_quality"]
    lines.append(f"  excluded by the data-quality rules together: {quality['excluded']} ({_percent(quality['share'])})")
    if analysis.warning:
        return "\n".join(lines)
    lines.append(f"Items: {summary['items']} x {summary['dimensions']} dimensions")
    for family, pairs in summary["selected_pairs_per_family"].items():
        items = summary["selected_items_per_family"][family]
        lines.append(f"  {family}: {pairs} item x dimension pairs selected ({items} distinct items)")
    power = summary["power"]
    lines.append(
        f"Power: {power['raters_needed']} raters needed for r = {power['r']} at alpha {power['alpha']} with power "
        f"{power['power']}; {len(power['items_short'])} of {power['items']} items have fewer"
    )
    same, opposite = summary["circumplex"]["same"], summary["circumplex"]["opposite"]
    if same["pairs"] or opposite["pairs"]:
        lines.append(
            f"Circumplex: same-direction value pairs {same['pairs']} (mean distance {_fmt(same['mean_distance'])}), "
            f"opposite-direction {opposite['pairs']} (mean distance {_fmt(opposite['mean_distance'])})"
        )
    return "\n".join(lines)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"
