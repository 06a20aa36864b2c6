"""`headway github risky-rule …`: which pull requests touch risky code, per repository.

On the store, or through the server HEADWAY_URL names (an admin's token to change them); a
rule is checked here first, so a bad one is refused with the same words either way.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from headway.cli.common import RemoteError, actor, errors, fail, store_for
from headway.output import emit_json

__all__ = ["app"]

app = typer.Typer(
    help="Risky-code rules: pull requests touching these paths need a flag.",
    no_args_is_help=True,
)

RepositoryArg = Annotated[
    str, typer.Argument(help="owner/name, or '*' for every repository without its own rule.")
]


def _remote(method: str, path: str, **kwargs: Any) -> Any:
    from headway.cli.remote import Api
    from headway.config import get_settings
    from headway.flags.model import ConfigError
    from headway.flags.service import Conflict, NotFound

    settings = get_settings()
    assert settings.url is not None
    api = Api(settings.url, settings.token)
    try:
        return api.call(method, path, **kwargs)
    except (RemoteError, NotFound, Conflict, ConfigError) as error:
        fail(str(error))
    finally:
        api.close()


@app.command("set")
def set_rule(
    repository: RepositoryArg,
    path: Annotated[
        list[str] | None,
        typer.Option(
            "--path",
            help="A gitignore-style pattern of risky files, such as 'migrations/**' or "
            "'src/payments/**' ('!' excludes); repeat for more.",
        ),
    ] = None,
    min_lines: Annotated[
        int | None,
        typer.Option(
            help="Changed lines (additions plus deletions) from which any change is risky."
        ),
    ] = None,
) -> None:
    """Set a repository's risky-code rule (replacing its last one) and print it. A pull request
    it finds touching risky code that adds or uses no flag gets an action_required check run."""
    from headway.config import get_settings
    from headway.github.risky import RiskyRule, RiskyRules, RuleError, check_rule

    paths = list(path or [])
    try:
        check_rule(repository, paths, min_lines)
    except RuleError as error:
        fail(str(error))
    settings = get_settings()
    if settings.url:
        body = {"repository": repository, "paths": paths, "min_lines": min_lines}
        rule = RiskyRule.model_validate(_remote("PUT", "/github/risky-rules", json=body))
    else:
        with store_for(settings) as store:
            rule = RiskyRules(store).put(repository, paths, min_lines, actor=actor())
    emit_json(rule.model_dump(mode="json"))


@app.command("list")
def list_rules() -> None:
    """Print every risky-code rule as JSON, the one for every repository ('*') first."""
    from headway.config import get_settings
    from headway.github.risky import RiskyRule, RiskyRules

    settings = get_settings()
    if settings.url:
        rules = [RiskyRule.model_validate(r) for r in _remote("GET", "/github/risky-rules")]
    else:
        with store_for(settings) as store:
            rules = RiskyRules(store).list()
    emit_json([r.model_dump(mode="json") for r in rules])


@app.command("remove")
def remove_rule(repository: RepositoryArg) -> None:
    """Remove a repository's own rule: its pull requests fall back to the '*' rule, or none."""
    from headway.config import get_settings
    from headway.github.risky import NoRule, RiskyRules, RuleError, check_repository

    try:
        key = check_repository(repository)
    except RuleError as error:
        fail(str(error))
    settings = get_settings()
    if settings.url:
        _remote("DELETE", "/github/risky-rules", params={"repository": repository})
    else:
        with store_for(settings) as store:
            try:
                RiskyRules(store).remove(repository, actor=actor())
            except NoRule as error:
                fail(str(error))
    errors.print(f"removed the risky-code rule of {key}", highlight=False)
