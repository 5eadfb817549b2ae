//! Integration tests of the collector's HTTP API (docs/api.md), each against a real server on
//! port 0 with its own temporary data directory.

mod helpers;

mod aggregates;
mod audit_cli;
mod auth;
mod backup_cli;
mod batched_writes;
mod configuration;
mod connections;
mod database_tls;
mod durability;
mod email_cli;
mod email_confirm;
mod email_scanners;
mod email_snippet;
mod email_tampering;
mod helpdesk;
mod hostile;
mod ingest_errors;
mod kinds;
mod marketer_alerts;
mod marketer_dashboard;
mod marketer_export;
mod marketer_live;
mod marketer_openapi;
mod migrate_cli;
mod older_store;
mod one_api_style;
mod overload;
mod recording;
mod serve_cli;
mod shared_store;
mod shared_store_faults;
mod sign_cli;
mod supervision;
mod trust_answers;
mod trust_floor;
mod trust_keys;
mod trust_limits;
mod writer_panic;
