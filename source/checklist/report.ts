import {sanitize} from '../sanitize.js';
import type {ChecklistReport} from './checklist.js';
import type {ItemResult, Verdict} from './items.js';

export type ReportMeta = {
	/** redacted, user:***@host:port/db */
	target: string;
	role: string;
	serverVersion: string;
};

export const verdictLabel: Record<Verdict, string> = {pass: 'PASS', fail: 'FAIL', unknown: 'UNKNOWN', 'signed-off': 'SIGNED OFF'};
const verdictMark: Record<Verdict, string> = {pass: '✅ pass', fail: '❌ fail', unknown: '❔ unknown', 'signed-off': '✍️ signed off'};

export function headline(report: ChecklistReport): string {
	const s = report.score;
	const after = s.projected > s.score ? ` -> ${s.projected}/100 after this week's critical actions` : '';
	return `${s.score}/100${after}`;
}

export function readiness(report: ChecklistReport): string {
	const s = report.score;
	return s.ready ? `ready: all ${s.required} required items pass or are signed off` : `not ready: ${s.required - s.requiredPassing} of ${s.required} required items do not pass`;
}

const clean = (line: string) => sanitize(line, 500);

/** For a terminal or a log: every item with its evidence, fix and console key. */
export function textReport(report: ChecklistReport, meta: ReportMeta): string[] {
	const lines = [`Production checklist for ${meta.target}: ${headline(report)}`, ''];
	for (const item of report.items) {
		lines.push(`${String(item.id).padStart(2)} ${verdictLabel[item.verdict].padEnd(10)} ${item.title}${item.required ? '' : ' (optional)'}`);
		for (const e of item.evidence) lines.push(`              ${clean(e)}`);
		for (const f of item.fix ?? []) lines.push(`              fix: ${clean(f)}`);
		if (item.action && item.verdict !== 'pass') lines.push(`              in the console: ${item.action}`);
	}
	lines.push('', `This week: ${report.score.critical.map(c => `[${c.done ? 'x' : ' '}] ${c.label}`).join('  ')}`, readiness(report));
	return lines;
}

// A table cell must stay on one line and must not close the cell or open code.
const cell = (text: string) => clean(text).replaceAll('\\', '\\\\').replaceAll('|', '\\|').replaceAll('`', "'");

/** Fit to paste into a deployment ticket: a table of verdicts, this week's actions, then each fix as code. */
export function markdownReport(report: ChecklistReport, meta: ReportMeta): string[] {
	const s = report.score;
	const lines = [
		`### Production checklist: ${headline(report).replace(' -> ', ' → ')}`,
		'',
		`Target \`${cell(meta.target)}\` (PostgreSQL ${cell(meta.serverVersion.split(' ')[0] ?? '')}, role \`${cell(meta.role)}\`), checked ${report.at} by \`intowork-db check\`. **${readiness(report)}.**`,
		'',
		'| # | Item | Verdict | Evidence |',
		'|---|------|---------|----------|',
		...report.items.map(i => `| ${i.id} | ${cell(i.title)} | ${verdictMark[i.verdict]} | ${i.evidence.map(cell).join('<br>')} |`),
		'',
		"**This week's critical actions**",
		'',
		...s.critical.map(c => `- [${c.done ? 'x' : ' '}] ${c.label} (item ${c.items.join(', ')})`),
	];
	const fixes = report.items.filter((i): i is ItemResult & {fix: string[]} => i.fix !== undefined && i.verdict !== 'pass');
	if (fixes.length) {
		lines.push('', '**Fixes**');
		for (const item of fixes) {
			lines.push('', `**${item.id} ${cell(item.title)}**`, '', '```', ...item.fix.map(sanitizeCode), '```');
		}
	}
	lines.push('', `Points per item (of 100): ${report.items.map(i => `${i.id}: ${i.weight}`).join(', ')}; an item scores when it passes or is signed off.`);
	return lines;
}

/** One display line that keeps its indentation (code, a plan tree); sanitize alone would trim it. */
export function indented(line: string, maxLength = 500): string {
	const indent = /^ */.exec(line)![0];
	return indent + sanitize(line, maxLength);
}

const sanitizeCode = (line: string) => indented(line).replaceAll('```', "'''");

export function jsonReport(report: ChecklistReport, meta: ReportMeta): unknown {
	return {...meta, checkedAt: report.at, score: report.score.score, projected: report.score.projected, ready: report.score.ready, critical: report.score.critical, items: report.items};
}
