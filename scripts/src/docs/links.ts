import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

/**
 * The relative links of the documentation (README.md and docs/**\/*.md) and whether each resolves:
 * the file exists and, for `#anchor`, a heading of that file has that anchor (GitHub's slugs).
 */

export interface BrokenLink {
  readonly file: string
  readonly target: string
  readonly reason: string
}

/** README.md and every Markdown file under docs/, relative to the root. */
export function documentationFiles(root: string): string[] {
  const files = ['README.md']
  const walk = (folder: string) => {
    for (const name of readdirSync(join(root, folder)).sort()) {
      const path = join(folder, name)
      if (statSync(join(root, path)).isDirectory()) walk(path)
      else if (name.endsWith('.md')) files.push(path)
    }
  }
  if (existsSync(join(root, 'docs'))) walk('docs')
  return files
}

/** The text outside fenced code blocks, with inline code spans blanked (links and headings in code do not count). */
export function proseLines(markdown: string): string[] {
  let fenced = false
  const lines: string[] = []
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced
      continue
    }
    if (!fenced) lines.push(line)
  }
  return lines
}

const withoutCodeSpans = (line: string) => line.replace(/`[^`]*`/g, (span) => ' '.repeat(span.length))

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
export const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]+>/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')

/** Every anchor a file's headings make, numbered as GitHub numbers repeated ones. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  for (const line of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (!heading) continue
    const base = slug((heading[1] ?? '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1'))
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    anchors.add(count === 0 ? base : `${base}-${count}`)
  }
  return anchors
}

/** The targets of a file's inline links and images that point inside the repository. */
export function relativeLinks(markdown: string): string[] {
  const targets: string[] = []
  for (const line of proseLines(markdown)) {
    for (const match of withoutCodeSpans(line).matchAll(
      /!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g,
    )) {
      const target = match[1] ?? ''
      if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) targets.push(target)
    }
  }
  return targets
}

/** Every relative link of the documentation that does not resolve, with the reason. */
export function brokenLinks(root: string): BrokenLink[] {
  const broken: BrokenLink[] = []
  const anchorCache = new Map<string, Set<string>>()
  const anchors = (path: string) => {
    if (!anchorCache.has(path)) anchorCache.set(path, anchorsOf(readFileSync(path, 'utf8')))
    return anchorCache.get(path) ?? new Set<string>()
  }
  for (const file of documentationFiles(root)) {
    const source = join(root, file)
    for (const target of relativeLinks(readFileSync(source, 'utf8'))) {
      const [pathPart = '', anchor] = target.split('#')
      const resolved = pathPart === '' ? source : resolve(dirname(source), decodeURIComponent(pathPart))
      if (!resolved.startsWith(resolve(root)) || !existsSync(resolved)) {
        broken.push({ file, target, reason: `${relative(root, resolved)} does not exist` })
        continue
      }
      if (anchor && resolved.endsWith('.md') && !anchors(resolved).has(anchor)) {
        broken.push({ file, target, reason: `${relative(root, resolved)} has no heading #${anchor}` })
      }
    }
  }
  return broken
}
