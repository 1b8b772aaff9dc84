import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { anchorsOf, brokenLinks, relativeLinks } from './links.ts'
import { repositoryRoot } from './repositoryRoot.ts'

describe('the links of README.md and docs/', () => {
  it('all resolve, files and #anchors', () => {
    expect(brokenLinks(repositoryRoot)).toEqual([])
  })
})

describe('the link checker', () => {
  it("makes GitHub's anchors, numbering repeated headings and skipping code", () => {
    const anchors = anchorsOf(
      '# Hourglass\n## Quick start\n```sh\n# not a heading\n```\n## `/compat/the-eye`: The Eye\n## Limits\n### Limits\n',
    )
    expect([...anchors]).toEqual(['hourglass', 'quick-start', 'compatthe-eye-the-eye', 'limits', 'limits-1'])
  })

  it('finds relative links and images, not web addresses or code', () => {
    const links = relativeLinks(
      '[a](docs/a.md#x) ![p](docs/p.png) [w](https://example.com) `[c](code.md)`\n```\n[d](fenced.md)\n```\n',
    )
    expect(links).toEqual(['docs/a.md#x', 'docs/p.png'])
  })

  it('reports a missing file and a missing anchor', () => {
    const root = mkdtempSync(join(tmpdir(), 'hourglass-links-'))
    mkdirSync(join(root, 'docs'))
    writeFileSync(
      join(root, 'README.md'),
      '[ok](docs/a.md#there) [gone](docs/b.md) [nowhere](docs/a.md#nope)\n',
    )
    writeFileSync(join(root, 'docs', 'a.md'), '# There\n[back](../README.md#hourglass)\n')
    expect(brokenLinks(root)).toEqual([
      { file: 'README.md', target: 'docs/b.md', reason: 'docs/b.md does not exist' },
      { file: 'README.md', target: 'docs/a.md#nope', reason: 'docs/a.md has no heading #nope' },
      { file: 'docs/a.md', target: '../README.md#hourglass', reason: 'README.md has no heading #hourglass' },
    ])
  })
})
