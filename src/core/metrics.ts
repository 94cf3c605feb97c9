/** /metrics in Prometheus's text format: jobs by state, bytes backed up, job durations. */
import type { Catalog } from '../catalog/index.js';

const BUCKETS = [1, 5, 15, 60, 300, 900, 3600, 14_400, Infinity];

export async function renderMetrics(catalog: Catalog, runningHere: number): Promise<string> {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);

  metric('coffer_jobs', 'gauge', 'Jobs in the catalog by kind and state.');
  for (const r of await catalog.jobs.countByState()) lines.push(`coffer_jobs{kind="${r.kind}",state="${r.state}"} ${r.n}`);

  metric('coffer_jobs_running_in_process', 'gauge', 'Jobs running in this server process.');
  lines.push(`coffer_jobs_running_in_process ${runningHere}`);

  const t = await catalog.backups.totals();
  metric('coffer_backups_successful', 'gauge', 'Successful backups in the catalog.');
  lines.push(`coffer_backups_successful ${t.count}`);
  metric('coffer_backup_bytes_processed_total', 'counter', 'Bytes read by all successful backups still in the catalog.');
  lines.push(`coffer_backup_bytes_processed_total ${t.bytes}`);
  metric('coffer_backup_bytes_added_total', 'counter', 'New data (before compression) that successful backups added to repositories.');
  lines.push(`coffer_backup_bytes_added_total ${t.added}`);

  metric('coffer_job_duration_seconds', 'histogram', 'Durations of the last 1000 finished jobs, by kind.');
  const byKind = new Map<string, number[]>();
  for (const d of await catalog.jobs.durations(1000)) {
    if (!byKind.has(d.kind)) byKind.set(d.kind, []);
    byKind.get(d.kind)!.push(d.seconds);
  }
  for (const [kind, secs] of byKind) {
    for (const b of BUCKETS) lines.push(`coffer_job_duration_seconds_bucket{kind="${kind}",le="${b === Infinity ? '+Inf' : b}"} ${secs.filter((s) => s <= b).length}`);
    lines.push(`coffer_job_duration_seconds_sum{kind="${kind}"} ${secs.reduce((a, b) => a + b, 0).toFixed(3)}`);
    lines.push(`coffer_job_duration_seconds_count{kind="${kind}"} ${secs.length}`);
  }

  metric('process_resident_memory_bytes', 'gauge', 'Resident memory of this process.');
  lines.push(`process_resident_memory_bytes ${process.memoryUsage.rss()}`);
  return lines.join('\n') + '\n';
}
