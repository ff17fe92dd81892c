"""``flask sms templates``: the template catalogue as a provider's console asks for it.

What an operator needs to register the texts with Aliyun or Tencent Cloud (name, type,
content, an example, why it is sent), the check of the providers' rules (``--check``,
non-zero exit naming each broken rule), and a complete ``SMS_TEMPLATES`` file with a
placeholder code per key (``--example-mapping``) to fill in with the codes the consoles
give, in the format the Aliyun and Tencent backends read (``[aliyun]`` and ``[tencent]``
tables), and after an upgrade the templates that file still lacks (``--missing``).
"""

from __future__ import annotations

import tomllib

import click
from flask import current_app
from flask.cli import AppGroup

from volunteer_hub.sms.templates import CATALOGUE, Template, example, problems

sms = AppGroup("sms", help="SMS: the template catalogue.")

#: placeholder codes in the example mapping, numbered in catalogue order
_PLACEHOLDER_CODES = {"aliyun": "SMS_9{:08d}", "tencent": "9{:06d}"}


@sms.command("templates")
@click.option("--check", is_flag=True, help="Exit non-zero when a template breaks a provider rule.")
@click.option(
    "--example-mapping",
    is_flag=True,
    help="Print an SMS_TEMPLATES file mapping every key to a placeholder code.",
)
@click.option(
    "--missing",
    is_flag=True,
    help="Print the templates the SMS_TEMPLATES file has no code for (after an upgrade: "
    "what to register); exit non-zero if any.",
)
def templates_command(check: bool, example_mapping: bool, missing: bool):
    """Print every template: name, type, content with ${var}, an example, why it is sent."""
    signature = current_app.config["SMS_SIGNATURE"]
    if example_mapping:
        click.echo(example_mapping_toml(), nl=False)
        return
    if missing:
        unmapped = missing_templates(current_app.config.get("SMS_TEMPLATES"))
        for provider, keys in unmapped.items():
            for key in keys:
                click.echo(f"[{provider}] {key}")
                click.echo(describe(CATALOGUE[key], signature))
        if any(unmapped.values()):
            count = sum(len(keys) for keys in unmapped.values())
            raise click.ClickException(
                f"{count} template(s) without a code: texts of those kinds fail until added"
            )
        click.echo(f"every template has a code in {', '.join(unmapped)}")
        return
    if check:
        found = problems(signature=signature)
        for problem in found:
            click.echo(problem, err=True)
        if found:
            raise click.ClickException(f"{len(found)} provider rule(s) broken")
        click.echo(f"{len(CATALOGUE)} templates, no provider rule broken")
        return
    for template in CATALOGUE.values():
        click.echo(describe(template, signature))


def missing_templates(path: str | None) -> dict[str, list[str]]:
    """For each provider table of the SMS_TEMPLATES file, the catalogue keys it lacks
    (a release may add templates, and a domestic provider sends approved ones only)."""
    if not path:
        raise click.ClickException("SMS_TEMPLATES is not set")
    try:
        with open(path, "rb") as file:
            tables = tomllib.load(file)
    except (OSError, ValueError) as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise click.ClickException(f"SMS_TEMPLATES cannot be read: {exc}") from None
    providers = [name for name in _PLACEHOLDER_CODES if isinstance(tables.get(name), dict)]
    if not providers:
        raise click.ClickException(f"SMS_TEMPLATES ({path}) has no [aliyun] or [tencent] table")
    return {name: [key for key in CATALOGUE if key not in tables[name]] for name in providers}


def describe(template: Template, signature: str) -> str:
    """One template as a provider's console asks for it."""
    variables = "；".join(
        f"${{{name}}} 例：{template.variables[name].example}" for name in template.names
    )
    return "\n".join([
        f"模板名称：{template.key}",
        f"模板类型：{template.kind}",
        f"模板内容（阿里云）：{template.content}",
        f"模板内容（腾讯云）：{template.tencent_content()}",
        f"变量：{variables or '无'}",
        f"示例：{signature}{example(template).text}",
        f"申请说明：{template.why}",
        "",
    ])  # fmt: skip


def example_mapping_toml() -> str:
    """A complete SMS_TEMPLATES file: one table per provider, every key, placeholder codes."""
    lines = [
        "# SMS_TEMPLATES: our template keys -> each provider's template code.",
        "# Replace every placeholder code with the one the provider's console gave for",
        "# that template (`flask sms templates` prints what to register).",
        "",
    ]
    for provider, pattern in _PLACEHOLDER_CODES.items():
        lines.append(f"[{provider}]")
        for number, template in enumerate(CATALOGUE.values(), start=1):
            code = pattern.format(number)
            if provider == "tencent" and template.names:
                # Tencent numbers variables {1}, {2} …: say which of ours fills which.
                params = ", ".join(f'"{name}"' for name in template.names)
                lines.append(f'{template.key} = {{ id = "{code}", params = [{params}] }}')
            else:
                lines.append(f'{template.key} = "{code}"')
        lines.append("")
    return "\n".join(lines)
