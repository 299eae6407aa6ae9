"""CLI: monitor, simulate, alerts, ack."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("monitor", help="drift, data quality, traffic and model quality for an "
                                       "endpoint (the latest check; runs one if there is none)")
    p.add_argument("endpoint", nargs="?", help="endpoint name (omit with --watch)")
    p.add_argument("--window", default="hour", choices=["hour", "day", "week", "custom"],
                   help="time window (default: the last hour)")
    p.add_argument("--start", help="custom window start (ISO date/time, UTC if no zone)")
    p.add_argument("--end", help="custom window end (ISO date/time)")
    p.add_argument("--check", action="store_true", help="run a fresh check first")
    p.add_argument("--watch", action="store_true",
                   help="run scheduled checks of every endpoint until interrupted "
                        "(every STUDIO_MONITOR_INTERVAL_S seconds)")
    p.add_argument("--once", action="store_true", help="with --watch: one round, then exit")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_monitor)

    p = sub.add_parser("simulate", help="send realistic traffic to an endpoint for demos")
    p.add_argument("endpoint")
    p.add_argument("--rows", type=int, required=True, help="how many predictions to request")
    p.add_argument("--drift", metavar="COL", help="shift this input column")
    p.add_argument("--feedback", type=float, default=0.3,
                   help="share of rows that get ground truth sent back (default 0.3)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--api-key", default=None,
                   help="API key to send; without one, when the service requires keys, a "
                        "temporary key is created in the store for this run and revoked after")
    p.add_argument("--no-check", action="store_true", help="do not run a check afterwards")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("alerts", help="list monitoring alerts")
    p.add_argument("endpoint", nargs="?")
    p.add_argument("--open", action="store_true", help="only unacknowledged alerts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_alerts)

    p = sub.add_parser("prune", help="delete captured traffic (prediction logs, feedback, "
                                     "capture files) older than the retention")
    p.add_argument("--days", type=float, default=None,
                   help="keep this many days (default: STUDIO_CAPTURE_RETENTION_DAYS, 90)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_prune)

    p = sub.add_parser("ack", help="acknowledge a monitoring alert")
    p.add_argument("alert", type=int)
    p.add_argument("--by", default="cli")
    p.set_defaults(func=cmd_ack)


def _epoch(text: str | None, what: str) -> float | None:
    import pandas as pd

    from studio.errors import InvalidInput

    if text is None:
        return None
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise InvalidInput(f"{what} '{text}' is not a date/time (use e.g. 2026-01-31T12:00)") \
            from None
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.timestamp()


def _alert_row(alert) -> dict:
    return {"id": alert.id, "endpoint": alert.endpoint, "at": alert.at.isoformat(),
            "severity": alert.severity, "rule_id": alert.rule_id,
            "rule": (alert.evidence.get("rule") or {}).get("kind"), "message": alert.message,
            "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
            "acknowledged_by": alert.acknowledged_by, "webhook_status": alert.webhook_status,
            "report_id": alert.report_id}


def report_json(snapshot: dict, open_alerts: list) -> dict:
    """The ``monitor --json`` object (features follow the CLI contract)."""
    from datetime import datetime, timezone

    keep = ("feature", "status", "statistic", "score", "importance", "psi", "p_value",
            "missing_rate", "baseline_missing_rate", "new_categories", "thresholds", "reasons",
            "rows")
    pred = snapshot.get("prediction")
    return {
        "endpoint": snapshot["endpoint"], "model": snapshot.get("model"),
        "report_id": snapshot.get("report_id"), "status": snapshot["status"],
        "window": snapshot["window"],
        "window_start": datetime.fromtimestamp(snapshot["window_start"], timezone.utc).isoformat(),
        "window_end": datetime.fromtimestamp(snapshot["window_end"], timezone.utc).isoformat(),
        "checked_at": datetime.fromtimestamp(snapshot["at"], timezone.utc).isoformat(),
        "note": snapshot.get("note"), "rows": snapshot["rows"],
        "features": [{k: f.get(k) for k in keep} for f in snapshot.get("features") or []],
        "prediction": {k: pred.get(k) for k in keep} if pred else None,
        "data_quality": {k: snapshot["data_quality"].get(k)
                         for k in ("rows_checked", "rows_in_window", "rejected", "issues")},
        "traffic": snapshot["traffic"]["totals"],
        "quality": {k: snapshot["quality"].get(k) for k in
                    ("metric", "value", "baseline", "drop", "status", "labelled", "predictions",
                     "label_share", "current")},
        "alerts": [_alert_row(a) for a in open_alerts],
    }


def _print_report(data: dict) -> None:
    print(f"endpoint {data['endpoint']}  model {data['model'] or '-'}  window {data['window']} "
          f"({data['window_start'][:19]} → {data['window_end'][:19]} UTC)")
    print(f"checked {data['checked_at'][:19]} UTC   status: {data['status'].upper()}   "
          f"{data['rows']['in_window']:,} predictions in the window")
    if data.get("note"):
        print(f"note: {data['note']}")
    if data["features"]:
        print(f"\n{'feature':<24} {'status':<8} {'statistic':<15} {'score':>8} {'importance':>10}")
        for f in data["features"]:
            score = "-" if f["score"] is None else f"{f['score']:.3g}"
            imp = "-" if f["importance"] is None else f"{f['importance']:.2f}"
            print(f"{f['feature'][:24]:<24} {f['status']:<8} {f['statistic']:<15} {score:>8} "
                  f"{imp:>10}")
            for reason in f.get("reasons") or []:
                print(f"{'':<26}{reason}")
    pred = data.get("prediction")
    if pred:
        score = "-" if pred["score"] is None else f"{pred['score']:.3g}"
        print(f"{'(prediction)':<24} {pred['status']:<8} {pred['statistic']:<15} {score:>8}")
    t = data["traffic"]
    print(f"\ntraffic: {t['requests']:,} requests ({t.get('predictions', 0):,} predictions), "
          f"{t['per_minute'] or 0:.1f}/min, "
          f"4xx {t['errors_4xx']}, 5xx {t['errors_5xx']}, p50 {t['p50_ms'] or '-'} ms, "
          f"p95 {t['p95_ms'] or '-'} ms, p99 {t['p99_ms'] or '-'} ms")
    q = data["quality"]
    if q.get("value") is not None:
        base = "-" if q.get("baseline") is None else f"{q['baseline']:.4g}"
        print(f"model quality: {q['metric']} {q['value']:.4g} (validation {base}) on "
              f"{q['labelled']:,} labelled predictions")
    else:
        print(f"model quality: no feedback in this window ({q['labelled']} labels)")
    issues = data["data_quality"]["issues"]
    if issues:
        print("\ndata quality:")
        for issue in issues[:8]:
            examples = ", ".join(issue["examples"])
            print(f"  {issue['feature'][:24]:<24} {issue['label']}: {issue['count']} "
                  f"({issue['rate']:.1%}){'  e.g. ' + examples if examples else ''}")
    if data["alerts"]:
        print("\nopen alerts:")
        for a in data["alerts"]:
            print(f"  #{a['id']} {a['at'][:19]} {a['severity']}: {a['message']}")


def cmd_monitor(args, settings) -> int:
    from studio import open_store
    from studio.cli import print_json
    from studio.errors import InvalidInput
    from studio.monitor import alerts, reports
    from studio.monitor.check import run_check
    from studio.names import validate_name

    store = open_store(settings)
    if args.watch:
        from studio.monitor.scheduler import run_due_checks, watch

        def show(item: dict) -> None:
            if args.json:
                print_json(item)  # one JSON line per check while watching
            else:
                print(f"{item['endpoint']}: " + (f"error: {item['error']}" if "error" in item else
                      f"{item['status']}, report {item['report_id']}, "
                      f"{len(item['alerts'])} new alert(s)"), flush=True)

        if args.once:
            # ChecksBusy (another process is mid-round) is a StudioError: one line, exit 2
            checks = run_due_checks(store, settings.monitor_interval_s)
            if args.json:
                print_json({"checks": checks})
            else:
                for item in checks:
                    show(item)
                if not checks:
                    print("nothing due: every endpoint was checked within the last "
                          f"{settings.monitor_interval_s} s")
            return 0
        watch(settings, store, out=show)
        return 0
    if not args.endpoint:
        raise InvalidInput("name an endpoint (`python -m studio endpoints` lists them), "
                           "or use --watch")
    endpoint = validate_name(args.endpoint, "endpoint name")
    start, end = _epoch(args.start, "--start"), _epoch(args.end, "--end")
    window = "custom" if (start is not None or end is not None) else args.window
    if window == "custom" and (start is None or end is None):
        raise InvalidInput("a custom window needs both --start and --end")
    latest = None if (args.check or window == "custom") else \
        reports.latest_report(store, endpoint, window)
    if latest is None:
        snapshot = run_check(store, endpoint, window=window, start=start, end=end).snapshot
    else:
        snapshot = reports.load_snapshot(store, latest)
    data = report_json(snapshot, alerts.list_alerts(store, endpoint, open_only=True, limit=20))
    if args.json:
        print_json(data)
    else:
        _print_report(data)
    return 0


def cmd_simulate(args, settings) -> int:
    from studio import open_store
    from studio.cli import print_json
    from studio.monitor.check import run_check
    from studio.monitor.simulate import simulate
    from studio.names import validate_name

    store = open_store(settings)
    endpoint = validate_name(args.endpoint, "endpoint name")

    def progress(sent: int, total: int) -> None:
        if not args.json:
            print(f"\rsent {sent:,}/{total:,}", end="", flush=True)

    result = simulate(settings, store, endpoint, rows=args.rows, drift=args.drift,
                      feedback=args.feedback, seed=args.seed, api_key=args.api_key,
                      on_progress=progress)
    if not args.json:
        print()
    if not args.no_check:
        check = run_check(store, endpoint)
        drifted = [f["feature"] for f in check.snapshot["features"] if f["status"] != "ok"]
        result["check"] = {"report_id": check.report.id, "status": check.report.status,
                           "drifted": drifted,
                           "alerts": [_alert_row(a) for a in check.alerts]}
    if args.json:
        print_json(result)
        return 0
    errors = ", ".join(f"{n} × HTTP {code}" for code, n in result["errors"].items()) or "none"
    print(f"sent {result['rows']:,} rows to {endpoint} ({result['model']}) from the "
          f"{result['source']}{', drifting ' + args.drift if args.drift else ''}: "
          f"{result['answered']:,} answered, errors {errors}, feedback for {result['feedback']:,}")
    if result.get("api_key") == "temporary (revoked)":
        print("the service requires API keys: a temporary key was used and is now revoked")
    if "check" in result:
        c = result["check"]
        print(f"check: {c['status']}; drift in: {', '.join(c['drifted']) or 'nothing'}")
        for a in c["alerts"]:
            print(f"alert #{a['id']} ({a['severity']}): {a['message']}")
        print(f"details: python -m studio monitor {endpoint}")
    return 0


def cmd_alerts(args, settings) -> int:
    from studio import open_store
    from studio.cli import print_json
    from studio.monitor import alerts

    store = open_store(settings)
    found = alerts.list_alerts(store, args.endpoint, open_only=args.open)
    if args.json:
        print_json({"alerts": [_alert_row(a) for a in found]})
        return 0
    if not found:
        print("no alerts" + (" open" if args.open else "") +
              ": checks raise them when a rule is broken (`python -m studio monitor ENDPOINT`)")
        return 0
    for a in found:
        state = f"acknowledged by {a.acknowledged_by}" if a.acknowledged_at else "OPEN"
        print(f"#{a.id:<5} {a.at.isoformat()[:19]} {a.endpoint:<16} {a.severity:<8} {state}")
        print(f"       {a.message}")
    return 0


def cmd_ack(args, settings) -> int:
    from studio import open_store
    from studio.monitor import alerts

    alert = alerts.acknowledge(open_store(settings), args.alert, by=args.by)
    print(f"alert #{alert.id} acknowledged by {alert.acknowledged_by} at "
          f"{alert.acknowledged_at.isoformat()[:19]}")
    return 0


def cmd_prune(args, settings) -> int:
    from studio import open_store
    from studio.cli import print_json
    from studio.monitor.retention import prune

    days = settings.capture_retention_days if args.days is None else args.days
    if args.days is None and not days:
        result = {"days": 0, "prediction_logs": 0, "feedback": 0, "capture_folders": 0,
                  "note": "STUDIO_CAPTURE_RETENTION_DAYS is 0: everything is kept"}
    else:
        result = {"days": days, **prune(open_store(settings), days)}
        result.pop("before", None)
    if args.json:
        print_json(result)
    elif result.get("note"):
        print(result["note"])
    else:
        print(f"kept the last {days:g} days: deleted {result['prediction_logs']:,} prediction "
              f"logs, {result['feedback']:,} feedback rows and {result['capture_folders']:,} "
              "capture folders")
    return 0
