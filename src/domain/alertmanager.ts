import { createHash } from 'node:crypto';
import type { AlertAction } from './alert.ts';
import { toTitle } from './alert.ts';
import { severities, type Severity } from './incident.ts';

// The Prometheus Alertmanager webhook, version 4 (SPEC section 6). Alertmanager sends the whole
// group each time: every alert in it, firing or resolved, with the group's `status` firing while
// any alert fires. One incident per (integration, groupKey): the groupKey is the dedup_key.

export interface AlertmanagerAlert {
  status: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
  fingerprint?: string;
}

export interface AlertmanagerPayload {
  version: string;
  groupKey: string;
  truncatedAlerts?: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: AlertmanagerAlert[];
}

// The `severity` label as Prometheus rules commonly write it, mapped like Events v2 severities;
// P1-P4 are taken as they are. Anything else, or no label, is P3 (Tocsin's default).
const severityLabels: Record<string, Severity> = {
  critical: 'P1',
  page: 'P1',
  error: 'P2',
  high: 'P2',
  warning: 'P3',
  warn: 'P3',
  medium: 'P3',
  info: 'P4',
  low: 'P4',
};

export function severityOfLabel(label: string | undefined): Severity | undefined {
  if (label === undefined) return undefined;
  const upper = label.trim().toUpperCase();
  if ((severities as readonly string[]).includes(upper)) return upper as Severity;
  return severityLabels[label.trim().toLowerCase()];
}

/** A groupKey is usually short; a longer one is hashed so that it stays an index-friendly dedup_key. */
export function groupDedupKey(groupKey: string): string {
  return groupKey.length <= 255 ? groupKey : `sha256:${createHash('sha256').update(groupKey).digest('hex')}`;
}

export function alertmanagerToAction(payload: AlertmanagerPayload): AlertAction {
  const dedupKey = groupDedupKey(payload.groupKey);
  const details = alertmanagerDetails(payload);
  if (payload.status === 'resolved') return { kind: 'resolve', dedup_key: dedupKey, details };

  const firing = payload.alerts.filter((alert) => alert.status === 'firing');
  const considered = firing.length > 0 ? firing : payload.alerts;
  // The most urgent alert of the group sets the incident's severity.
  const found = considered.map((alert) => severityOfLabel(alert.labels.severity)).filter((s): s is Severity => s !== undefined);
  const severity = found.length > 0 ? [...found].sort()[0]! : severityOfLabel(payload.commonLabels.severity) ?? 'P3';
  const only = considered.length === 1 ? considered[0] : undefined;
  const summary = payload.commonAnnotations.summary ?? only?.annotations.summary;
  const description = payload.commonAnnotations.description ?? only?.annotations.description ?? null;
  return {
    kind: 'trigger',
    dedup_key: dedupKey,
    incident: { title: toTitle(summary ?? groupName(payload), 'Alertmanager alert'), description, severity },
    details,
  };
}

/** Like Alertmanager's own default title: the alert name, then the other grouping labels. */
function groupName(payload: AlertmanagerPayload): string {
  const name = payload.groupLabels.alertname ?? payload.commonLabels.alertname;
  const others = Object.entries(payload.groupLabels)
    .filter(([label]) => label !== 'alertname')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, value]) => value);
  if (name && others.length > 0) return `${name} (${others.join(' ')})`;
  return name ?? others.join(' ');
}

/** The group as it was sent, minus nothing a responder would want: labels, annotations, generatorURL. */
function alertmanagerDetails(payload: AlertmanagerPayload): Record<string, unknown> {
  return {
    status: payload.status,
    receiver: payload.receiver,
    groupKey: payload.groupKey,
    groupLabels: payload.groupLabels,
    commonLabels: payload.commonLabels,
    commonAnnotations: payload.commonAnnotations,
    externalURL: payload.externalURL,
    truncatedAlerts: payload.truncatedAlerts ?? 0,
    alerts: payload.alerts.map((alert) => ({
      status: alert.status,
      labels: alert.labels,
      annotations: alert.annotations,
      startsAt: alert.startsAt,
      endsAt: alert.endsAt,
      generatorURL: alert.generatorURL,
      fingerprint: alert.fingerprint,
    })),
  };
}
