import { describe, expect, it } from 'vitest'
import { migrationApplied, migrations } from './migrations.ts'

const named = (name: string) => migrations.find((m) => m.name === name)!

describe('which migrations a warehouse has run', () => {
  it('gives every migration a version of its own', () => {
    expect(new Set(migrations.map((m) => m.version)).size).toBe(migrations.length)
  })

  it('given a warehouse that ran the quarantine as 60, then generations (61) still run', () => {
    const ran = [{ version: 60, name: 'projection quarantine' }]
    expect(migrationApplied(named('projection quarantine'), ran)).toBe(true)
    expect(migrationApplied(named('projection generations'), ran)).toBe(false)
  })

  it('given a warehouse that ran generations as 60, then the quarantine (60) still runs and generations do not again', () => {
    const ran = [{ version: 60, name: 'projection generations' }]
    expect(migrationApplied(named('projection quarantine'), ran)).toBe(false)
    expect(migrationApplied(named('projection generations'), ran)).toBe(true)
  })

  it('given a migration renamed since it ran, then its version alone says it ran', () => {
    expect(migrationApplied(named('projection quarantine'), [{ version: 60, name: 'an older name' }])).toBe(
      true,
    )
  })
})
