"""CLI: predict, publish, rollback, unpublish, serve, endpoints, apikey."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("predict", help="batch transform: a CSV through a model version")
    p.add_argument("model", help="NAME (latest version) or NAME:VERSION")
    p.add_argument("file", help="CSV file with the model's input columns")
    p.add_argument("--out", required=True, help="where to write the CSV with predictions")
    p.add_argument("--chunk-rows", type=int, default=50_000)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("publish", help="point an endpoint at a model version")
    p.add_argument("model", help="NAME (latest version) or NAME:VERSION")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("rollback", help="serve the version an endpoint served before")
    p.add_argument("endpoint")
    p.add_argument("--to", help="NAME:VERSION it served earlier (default: the one before now)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("unpublish", help="stop serving an endpoint")
    p.add_argument("endpoint")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_unpublish)

    p = sub.add_parser("serve", help="run the prediction service")
    p.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8080)")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("endpoints", help="list endpoints")
    p.add_argument("--json", action="store_true")
    p.add_argument("--history", metavar="ENDPOINT", help="show one endpoint's history")
    p.set_defaults(func=cmd_endpoints)

    p = sub.add_parser("apikey", help="API keys for the prediction service")
    keys = p.add_subparsers(dest="apikey_command", metavar="ACTION")
    c = keys.add_parser("create", help="create a key (shown once)")
    c.add_argument("name")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_apikey_create)
    c = keys.add_parser("list", help="list keys (never the secret)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_apikey_list)
    c = keys.add_parser("revoke", help="revoke a key by id or prefix")
    c.add_argument("key")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_apikey_revoke)


def _endpoint_row(ep, settings) -> dict:
    return {"name": ep.name, "model": ep.model, "model_version_id": ep.model_version_id,
            "generation": ep.generation, "updated_at": ep.updated_at.isoformat(),
            "url": f"{settings.base_service_url}/endpoints/{ep.name}/invocations"}


def cmd_predict(args, settings) -> int:
    from pathlib import Path

    from studio import open_store
    from studio.batch import predict_file
    from studio.cli import print_json
    from studio.errors import InvalidInput
    from studio.registry import resolve_model_version

    store = open_store(settings)
    version = resolve_model_version(store, args.model)
    source = Path(args.file)
    if not source.is_file():
        raise InvalidInput(f"file '{args.file}' does not exist")
    result = predict_file(store, version, source, Path(args.out), chunk_rows=args.chunk_rows)
    if args.json:
        print_json({"model": version.ref, **result})
    else:
        print(f"{result['rows']} rows predicted by {version.ref} → {result['out']}")
    return 0


def cmd_publish(args, settings) -> int:
    from studio import open_store
    from studio.cli import print_json
    from studio.endpoints import publish

    ep = publish(open_store(settings), args.model, args.endpoint, actor="cli")
    row = _endpoint_row(ep, settings)
    if args.json:
        print_json(row)
    else:
        print(f"endpoint {ep.name} → {ep.model} (live within a few seconds at {row['url']})")
    return 0


def cmd_rollback(args, settings) -> int:
    from studio import open_store
    from studio.cli import print_json
    from studio.endpoints import rollback

    ep = rollback(open_store(settings), args.endpoint, to=args.to, actor="cli")
    if args.json:
        print_json(_endpoint_row(ep, settings))
    else:
        print(f"endpoint {ep.name} rolled back → {ep.model}")
    return 0


def cmd_unpublish(args, settings) -> int:
    from studio import open_store
    from studio.cli import print_json
    from studio.endpoints import unpublish

    ep = unpublish(open_store(settings), args.endpoint, actor="cli")
    if args.json:
        print_json(_endpoint_row(ep, settings))
    else:
        print(f"endpoint {ep.name} no longer serves a model")
    return 0


def cmd_serve(args, settings) -> int:
    from studio.service.server import serve

    serve(settings, host=args.host, port=args.port, workers=args.workers)
    return 0


def cmd_endpoints(args, settings) -> int:
    from studio import open_store
    from studio.cli import print_json
    from studio.endpoints import history, list_endpoints

    store = open_store(settings)
    if args.history:
        events = history(store, args.history)
        if args.json:
            print_json({"endpoint": args.history, "history": [
                {"at": e.at.isoformat(), "action": e.action, "model": e.model,
                 "previous_model": e.previous_model, "actor": e.actor} for e in events]})
        else:
            for e in events:
                print(f"{e.at:%Y-%m-%d %H:%M:%S}  {e.action:<9} {e.model or '-':<24} "
                      f"(was {e.previous_model or '-'}) by {e.actor}")
        return 0
    endpoints = list_endpoints(store)
    if args.json:
        print_json({"endpoints": [_endpoint_row(e, settings) for e in endpoints]})
        return 0
    if not endpoints:
        print("no endpoints yet: publish a model with `python -m studio publish MODEL --endpoint NAME`")
        return 0
    print(f"{'endpoint':<24} {'model':<28} url")
    for e in endpoints:
        print(f"{e.name:<24} {e.model or '(unpublished)':<28} "
              f"{settings.base_service_url}/endpoints/{e.name}/invocations")
    return 0


def _key_row(k) -> dict:
    return {"id": k.id, "name": k.name, "prefix": f"sk_{k.prefix}", "active": k.active,
            "created_at": k.created_at.isoformat(),
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None}


def cmd_apikey_create(args, settings) -> int:
    from studio import open_store
    from studio.cli import print_json
    from studio.endpoints import create_api_key

    key, token = create_api_key(open_store(settings), args.name)
    if args.json:
        print_json({**_key_row(key), "key": token})
    else:
        print(token)
        import sys

        sys.stderr.write("this key is shown once; send it as the X-API-Key header\n")
    return 0


def cmd_apikey_list(args, settings) -> int:
    from studio import open_store
    from studio.cli import print_json
    from studio.endpoints import list_api_keys

    keys = list_api_keys(open_store(settings))
    if args.json:
        print_json({"keys": [_key_row(k) for k in keys]})
        return 0
    if not keys:
        print("no API keys: create one with `python -m studio apikey create NAME`")
    for k in keys:
        print(f"{k.id:>4}  sk_{k.prefix}…  {k.name:<20} {'active' if k.active else 'revoked'}")
    return 0


def cmd_apikey_revoke(args, settings) -> int:
    from studio import open_store
    from studio.cli import print_json
    from studio.endpoints import revoke_api_key

    key = revoke_api_key(open_store(settings), args.key)
    if args.json:
        print_json(_key_row(key))
    else:
        print(f"API key {key.id} (sk_{key.prefix}…) revoked")
    return 0
