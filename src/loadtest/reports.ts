/** The report files a load-test run leaves behind: report.html, summary.json, junit.xml and run.log. */
import {existsSync, readFileSync} from 'node:fs'
import {mkdir, readFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {PlatformError, packageRoot} from '../core/index.js'
import {SUMMARY_VERSION, type Summary, type ThresholdResult} from './types.js'

const TOKEN = '__SUMMARY_JSON__'

/** The page with the summary embedded as JSON that cannot end its <script> element or break JS parsing. */
export function renderHtml(summary: Summary, template: string): string {
  const at = template.indexOf(TOKEN)
  if (at < 0) throw new Error(`the report template has no ${TOKEN} token`)
  const json = JSON.stringify(summary)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029')
  // Spliced rather than String.replace, which would expand `$&` and friends found in the data.
  return template.slice(0, at) + json + template.slice(at + TOKEN.length)
}

export const renderSummaryJson = (summary: Summary): string => `${JSON.stringify(summary, null, 2)}\n`

/** "5%" for an error-rate fraction of 0.05, "500 ms" for a latency. */
const formatLimit = (t: Pick<ThresholdResult, 'metric'>, v: number): string =>
  t.metric === 'errors' ? `${Number((v * 100).toFixed(4))}%` : `${Number(v.toFixed(3))} ms`

/** The threshold as written, e.g. "p95 < 500 ms" or "errors < 1%". */
export const thresholdName = (t: ThresholdResult): string => `${t.metric} ${t.op} ${formatLimit(t, t.limit)}`

// XML 1.0 cannot carry most control characters even as references, and response bodies may hold them.
const xml = (s: string | number): string =>
  String(s)
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;')
const attr = (s: string | number): string => xml(s).replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;')

interface Case {
  classname: string
  name: string
  failure?: {message: string; text: string}
}

/**
 * JUnit XML: a testcase per threshold, plus "run validity" when invalid, "baseline" when regressed
 * and a failing "run completed" when interrupted (CI must not take part of a run for all of it).
 */
export function renderJunit(summary: Summary): string {
  const cases: Case[] = summary.thresholds.map((t) => ({
    classname: t.scope,
    name: thresholdName(t),
    failure: t.passed
      ? undefined
      : {message: t.text, text: `${t.text}\nactual: ${formatLimit(t, t.actual)}, limit: ${t.op} ${formatLimit(t, t.limit)}`},
  }))
  const stop = summary.interrupted
  if (stop) {
    const ran = `after ${summary.duration} s of ${stop.plannedDuration} s`
    const message = `interrupted by ${stop.signal} ${ran}; the figures cover only what ran`
    cases.push({classname: 'run', name: 'run completed', failure: {message, text: summary.verdict.sentence}})
  }
  if (!summary.validity.valid) {
    const reasons = summary.validity.reasons.length ? summary.validity.reasons : ['the load generator was the bottleneck']
    cases.push({
      classname: 'run',
      name: 'run validity',
      failure: {message: `run invalid: ${reasons.join('; ')}`, text: reasons.map((r) => `- ${r}`).join('\n')},
    })
  }
  const b = summary.baseline
  if (b?.regressed) {
    const worse = b.changes.filter((c) => c.regressed)
    const lines = worse.map((c) => `${c.metric} of ${c.scope}: ${c.baseline} -> ${c.current} (x${Number(c.ratio.toFixed(3))})`)
    cases.push({
      classname: 'run',
      name: 'baseline',
      failure: {
        message: `regressed against ${b.file} (tolerance ${Number((b.tolerance * 100).toFixed(2))}%): ${worse.length} figure(s) worse`,
        text: lines.join('\n'),
      },
    })
  }
  const failures = cases.filter((c) => c.failure).length
  const props = {
    target: summary.target,
    users: summary.users,
    model: summary.model,
    seed: summary.seed,
    verdict: summary.verdict.sentence,
    aborted: summary.verdict.aborted,
    interrupted: Boolean(stop),
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="platform load test" tests="${cases.length}" failures="${failures}" errors="0" time="${summary.duration}">`,
    `  <testsuite name="${attr(`platform load test: ${summary.profile}`)}" tests="${cases.length}" failures="${failures}" errors="0" ` +
      `skipped="0" time="${summary.duration}" timestamp="${attr(summary.startedAt)}">`,
    '    <properties>',
    ...Object.entries(props).map(([k, v]) => `      <property name="${k}" value="${attr(String(v))}"/>`),
    '    </properties>',
    ...cases.map((c) => {
      const open = `    <testcase classname="${attr(c.classname)}" name="${attr(c.name)}"`
      return c.failure
        ? `${open}>\n      <failure message="${attr(c.failure.message)}">${xml(c.failure.text)}</failure>\n    </testcase>`
        : `${open}/>`
    }),
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n')
}

/** Writes the four report files into dir (created if needed) and returns their paths. */
export async function writeReports(
  dir: string,
  summary: Summary,
  log: string[],
): Promise<{html: string; json: string; junit: string; log: string}> {
  await mkdir(dir, {recursive: true})
  const paths = {html: join(dir, 'report.html'), json: join(dir, 'summary.json'), junit: join(dir, 'junit.xml'), log: join(dir, 'run.log')}
  const template = await readFile(join(packageRoot(), 'templates', 'report.html'), 'utf8')
  await Promise.all([
    writeFile(paths.html, renderHtml(summary, template)),
    writeFile(paths.json, renderSummaryJson(summary)),
    writeFile(paths.junit, renderJunit(summary)),
    writeFile(paths.log, log.length ? `${log.join('\n')}\n` : ''),
  ])
  return paths
}

/** Reads a summary.json written by an earlier run (for --baseline), refusing anything this version cannot compare against. */
export function readSummary(file: string): Summary {
  const suggestion = 'pass the summary.json from the report directory of an earlier run of this platform version'
  if (!existsSync(file)) throw new PlatformError('USAGE', `baseline ${file} does not exist`, {suggestion})
  let data: unknown
  try {
    data = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new PlatformError('USAGE', `baseline ${file} is not valid JSON: ${(err as Error).message}`, {suggestion, cause: err})
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data) || !('version' in data))
    throw new PlatformError('USAGE', `baseline ${file} is not a load-test summary (it has no version)`, {suggestion})
  const {version, interrupted} = data as {version: unknown; interrupted?: unknown}
  // Version 1 differs only in its time series, which a comparison does not read.
  if (version !== SUMMARY_VERSION && version !== 1)
    throw new PlatformError(
      'USAGE',
      `baseline ${file} is a summary of version ${JSON.stringify(version)}; this platform reads version ${SUMMARY_VERSION}`,
      {
        suggestion: 'run the baseline again with this platform version and pass its summary.json',
      },
    )
  if (interrupted) {
    throw new PlatformError('USAGE', `baseline ${file} is from an interrupted run: it covers only part of its profile`, {suggestion})
  }
  return data as Summary
}
