"""Generates grafana-dashboard.json (run: python3 ops/gen_dashboard.py). Edit this, not the JSON."""
import json, os
S='{instance=~"$instance"}'
def sel(extra=""):
    return '{instance=~"$instance"%s}' % ("," + extra if extra else "")
RI="$__rate_interval"
C429=sel('code="429"')
CERR=sel('outcome="error"')
SUBS=sel('endpoint=~".* /subscriptions.*"')
panels=[]; pid=[0]; y=[0]
def nid():
    pid[0]+=1; return pid[0]
def row(title):
    panels.append({"type":"row","title":title,"id":nid(),"collapsed":False,"gridPos":{"h":1,"w":24,"x":0,"y":y[0]},"panels":[]})
    y[0]+=1
    row.x=0
row.x=0
def panel(title, targets, kind="timeseries", unit="short", w=8, desc="", h=7, extra=None):
    if row.x+w>24:
        row.x=0; y[0]+=h
    p={"type":kind,"title":title,"id":nid(),"datasource":{"type":"prometheus","uid":"${datasource}"},
       "gridPos":{"h":h,"w":w,"x":row.x,"y":y[0]},
       "fieldConfig":{"defaults":{"unit":unit},"overrides":[]},
       "targets":[{"refId":chr(65+i),"expr":e,"legendFormat":l,"datasource":{"type":"prometheus","uid":"${datasource}"}} for i,(e,l) in enumerate(targets)]}
    if desc: p["description"]=desc
    if kind=="stat":
        p["options"]={"reduceOptions":{"calcs":["lastNotNull"],"fields":"","values":False},"colorMode":"value","graphMode":"none"}
    if extra: p["fieldConfig"]["defaults"].update(extra)
    panels.append(p)
    row.x+=w
    if row.x>=24:
        row.x=0; y[0]+=h
def endrow():
    if row.x>0:
        row.x=0; y[0]+=7

row("Overview")
panel("Plugin nodes up",[(f'count(msteams_notify_plugin_info{S})',"nodes")],"stat",w=4)
panel("Subscription active",[(f'max(msteams_notify_subscription_active{S})',"active")],"stat",w=4,
      extra={"mappings":[{"type":"value","options":{"0":{"text":"NO","color":"red"},"1":{"text":"yes","color":"green"}}}]})
panel("Subscription expires in",[(f'max(msteams_notify_subscription_expiry_timestamp_seconds{S}) - time()',"")],"stat",unit="s",w=4)
panel("Last notification",[(f'time() - max(msteams_notify_subscription_last_notification_timestamp_seconds{S}) > 0',"")],"stat",unit="s",w=4,
      desc="Time since change notifications last arrived on any node.")
panel("Connected users",[(f'max(msteams_notify_connected_users{S})',"")],"stat",w=4)
panel("Parked items",[(f'sum(max by (queue) (msteams_notify_inbox_parked_items{S}))',"")],"stat",w=4,
      desc="Run /msteams admin status, then /msteams admin retry-parked once the cause is fixed.")
endrow()

row("Intake")
panel("Notification items accepted /s",[(f'sum by (endpoint) (rate(msteams_notify_webhook_items_accepted_total{S}[{RI}]))',"{{endpoint}}")],unit="ops")
panel("Notification items dropped /s",[(f'sum by (endpoint, reason) (rate(msteams_notify_webhook_items_dropped_total{S}[{RI}]))',"{{endpoint}} {{reason}}")],unit="ops")
panel("Accepted per node /s",[(f'sum by (instance) (rate(msteams_notify_webhook_items_accepted_total{S}[{RI}]))',"{{instance}}")],unit="ops")
endrow()

row("Inbox")
panel("Depth",[(f'max by (queue) (msteams_notify_inbox_depth{S})',"{{queue}}")])
panel("Oldest item age",[(f'max by (queue) (msteams_notify_inbox_oldest_item_age_seconds{S})',"{{queue}}")],unit="s")
panel("Parked items",[(f'max by (queue) (msteams_notify_inbox_parked_items{S})',"{{queue}}")])
panel("Jobs /s",[(f'sum by (queue) (rate(msteams_notify_inbox_jobs_processed_total{S}[{RI}]))',"processed {{queue}}"),
                 (f'sum by (queue) (rate(msteams_notify_inbox_jobs_retried_total{S}[{RI}]))',"retried {{queue}}"),
                 (f'sum by (queue) (rate(msteams_notify_inbox_jobs_parked_total{S}[{RI}]))',"parked {{queue}}")],unit="ops")
panel("Enqueue-to-done latency p50 / p95",[(f'histogram_quantile(0.5, sum by (le, queue) (rate(msteams_notify_inbox_job_latency_seconds_bucket{S}[{RI}])))',"p50 {{queue}}"),
                 (f'histogram_quantile(0.95, sum by (le, queue) (rate(msteams_notify_inbox_job_latency_seconds_bucket{S}[{RI}])))',"p95 {{queue}}")],unit="s")
endrow()

row("Delivery")
panel("DMs /s",[(f'sum(rate(msteams_notify_delivery_dms_total{S}[{RI}]))',"DMs")],unit="ops")
panel("Teams → Mattermost delay",[(f'histogram_quantile(0.5, sum by (le) (rate(msteams_notify_delivery_delay_seconds_bucket{S}[{RI}])))',"p50"),
                 (f'histogram_quantile(0.95, sum by (le) (rate(msteams_notify_delivery_delay_seconds_bucket{S}[{RI}])))',"p95"),
                 (f'histogram_quantile(0.99, sum by (le) (rate(msteams_notify_delivery_delay_seconds_bucket{S}[{RI}])))',"p99")],unit="s")
panel("Skipped by reason /s",[(f'sum by (reason) (rate(msteams_notify_delivery_skipped_total{S}[{RI}]))',"{{reason}}")],unit="ops")
panel("DM updates /s",[(f'sum by (kind) (rate(msteams_notify_delivery_updates_total{S}[{RI}]))',"{{kind}}")],unit="ops")
panel("Content fetched from Graph /s",[(f'sum by (reason) (rate(msteams_notify_delivery_content_fallbacks_total{S}[{RI}]))',"{{reason}}")],unit="ops",
      desc="Rich notification content missing or unusable; each costs a Graph call.")
panel("Attachments /s",[(f'sum by (kind, problem) (rate(msteams_notify_attach_files_total{S}[{RI}]))',"{{kind}} {{problem}}"),
                 (f'sum(rate(msteams_notify_attach_followups_total{S}[{RI}]))',"follow-up posts"),
                 (f'sum(rate(msteams_notify_attach_followup_files_total{S}[{RI}]))',"files in follow-ups"),
                 (f'sum(rate(msteams_notify_attach_followups_refused_total{S}[{RI}]))',"follow-ups refused")],unit="ops")
endrow()

row("Microsoft Graph")
panel("Requests /s by endpoint",[(f'sum by (endpoint) (rate(msteams_notify_graph_requests_total{S}[{RI}]))',"{{endpoint}}")],unit="ops",w=12)
panel("Requests /s by status",[(f'sum by (code) (rate(msteams_notify_graph_requests_total{S}[{RI}]))',"{{code}}")],unit="ops",w=12)
panel("Throttled (429) /s",[(f'sum by (endpoint) (rate(msteams_notify_graph_requests_total{C429}[{RI}]))',"{{endpoint}}")],unit="ops")
panel("Requests /s by token kind",[(f'sum by (token) (rate(msteams_notify_graph_requests_total{S}[{RI}]))',"{{token}}")],unit="ops")
panel("Latency p95 by endpoint",[(f'histogram_quantile(0.95, sum by (le, endpoint) (rate(msteams_notify_graph_request_duration_seconds_bucket{S}[{RI}])))',"{{endpoint}}")],unit="s")
endrow()

row("Database")
panel("Statements /s",[(f'sum by (query) (rate(msteams_notify_db_queries_total{S}[{RI}]))',"{{query}}")],unit="ops")
panel("Errors /s",[(f'sum by (query) (rate(msteams_notify_db_queries_total{CERR}[{RI}]))',"{{query}}")],unit="ops")
panel("Latency p95",[(f'histogram_quantile(0.95, sum by (le, query) (rate(msteams_notify_db_query_duration_seconds_bucket{S}[{RI}])))',"{{query}}")],unit="s")
endrow()

row("Mattermost plugin API")
panel("Calls /s",[(f'sum by (method) (rate(msteams_notify_plugin_api_calls_total{S}[{RI}]))',"{{method}}")],unit="ops")
panel("Errors /s",[(f'sum by (method) (rate(msteams_notify_plugin_api_calls_total{CERR}[{RI}]))',"{{method}}")],unit="ops")
panel("Latency p95",[(f'histogram_quantile(0.95, sum by (le, method) (rate(msteams_notify_plugin_api_call_duration_seconds_bucket{S}[{RI}])))',"{{method}}")],unit="s")
endrow()

row("Tokens and connections")
panel("Connected users and seats",[(f'max(msteams_notify_connected_users{S})',"connected"),(f'max(msteams_notify_connected_users_limit{S}) > 0',"limit"),
                 (f'max(msteams_notify_pending_invites{S})',"pending invites"),(f'max(msteams_notify_pending_invites_limit{S})',"invite limit"),
                 (f'max(msteams_notify_whitelisted_users{S})',"whitelisted")])
panel("Token refreshes and revocations",[(f'sum(increase(msteams_notify_tokens_refreshed_total{S}[$__range]))',"refreshed"),
                 (f'sum by (reason) (increase(msteams_notify_tokens_revoked_total{S}[$__range]))',"revoked {{reason}}")],kind="stat")
panel("Client secret expires in",[(f'max(msteams_notify_client_secret_expiry_timestamp_seconds{S}) - time() and max(msteams_notify_client_secret_expiry_known{S}) == 1',"")],"stat",unit="s")
endrow()

row("Subscription")
panel("Expires in / age",[(f'max(msteams_notify_subscription_expiry_timestamp_seconds{S}) - time()',"expires in"),
                 (f'time() - max(msteams_notify_subscription_last_renewed_timestamp_seconds{S}) > 0',"since last renewal"),
                 (f'time() - max(msteams_notify_subscription_created_timestamp_seconds{S}) > 0',"since created")],unit="s",
      desc="A falling 'since created' means the subscription was recreated (a gap in notifications is caught up).")
panel("Renewals and recreations",[(f'sum(increase(msteams_notify_subscription_renewals_total{S}[1h]))',"renewals /h"),
                 (f'sum by (reason) (increase(msteams_notify_subscription_recreations_total{S}[1h]))',"recreated {{reason}} /h")])
panel("Subscription calls to Graph /h",[(f'sum by (endpoint, code) (increase(msteams_notify_graph_requests_total{SUBS}[1h]))',"{{endpoint}} {{code}}")],
      desc="Create (POST), renew or re-key (PATCH), check (GET) and delete calls, counted on the wire.")
panel("Since last notification / last error",[(f'time() - max(msteams_notify_subscription_last_notification_timestamp_seconds{S})',"since last notification"),
                 (f'time() - max(msteams_notify_subscription_last_error_timestamp_seconds{S}) > 0',"since last error")],unit="s")
endrow()

row("Process")
panel("Goroutines",[(f'go_goroutines{S}',"{{instance}}")],w=6)
panel("Resident memory",[(f'msteams_notify_process_resident_memory_bytes{S}',"{{instance}}")],unit="bytes",w=6)
panel("Uptime",[(f'time() - msteams_notify_plugin_start_timestamp_seconds{S}',"{{instance}}")],"stat",unit="s",w=4)
panel("Store figures readable",[(f'min(msteams_notify_store_stats_ok{S})',"")],"stat",w=8)
endrow()

dash={"title":"MS Teams notifications (msteams-sync)","uid":"msteams-notify","schemaVersion":39,"version":1,"editable":True,
 "tags":["mattermost","msteams"],"time":{"from":"now-6h","to":"now"},"refresh":"1m","timezone":"",
 "description":"Teams chat → Mattermost DM pipeline of the com.mattermost.msteams-sync plugin. Gauges read from the database are reported by every node, so panels take max() across instances.",
 "templating":{"list":[
   {"name":"datasource","type":"datasource","query":"prometheus","label":"Prometheus","current":{}},
   {"name":"instance","type":"query","label":"Node","datasource":{"type":"prometheus","uid":"${datasource}"},
    "query":{"query":"label_values(msteams_notify_plugin_info, instance)","refId":"instance"},"definition":"label_values(msteams_notify_plugin_info, instance)",
    "includeAll":True,"multi":True,"allValue":".*","current":{"text":"All","value":"$__all"},"refresh":2}]},
 "panels":panels,"annotations":{"list":[]}}
json.dump(dash,open(os.path.join(os.path.dirname(os.path.abspath(__file__)),"grafana-dashboard.json"),"w"),indent=2,ensure_ascii=False)
print(len(panels))
