"""CLI: models (the registry)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("models", help="list models and versions")
    p.add_argument("--json", action="store_true")
    p.add_argument("--name", help="only this model")
    p.set_defaults(func=cmd_models)


def cmd_models(args, settings) -> int:
    from studio import open_store
    from studio.cli import print_json
    from studio.model_cards import list_model_versions

    rows = list_model_versions(open_store(settings), name=args.name)
    models: dict[str, list] = {}
    for row in rows:
        models.setdefault(row["model"], []).append(row)
    if args.json:
        print_json({"models": [{"name": name, "latest_version": max(v["version"] for v in vs),
                                "versions": vs} for name, vs in models.items()]})
        return 0
    if not rows:
        print("no models yet: train one with `python -m studio train DATA --target COL`")
        return 0
    print(f"{'model':<28} {'task':<11} {'metric':<10} {'score':>8}  {'stage':<10} endpoints")
    for row in rows:
        score = f"{row['score']:.4f}" if row["score"] is not None else "-"
        print(f"{row['ref']:<28} {row['task']:<11} {row['metric'] or '-':<10} {score:>8}  "
              f"{row['stage']:<10} {', '.join(row['endpoints']) or '-'}")
    return 0
