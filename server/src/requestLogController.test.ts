import { describe, expect, it } from 'vitest'
import { loggableUrl } from './requestLogController.ts'

describe('request log URLs', () => {
  it.each([
    [
      '/compat/devices/users?username=anna&email=a%40b.org&password=s3cret',
      '/compat/devices/users?username=[hidden]&email=[hidden]&password=[hidden]',
    ],
    ['/v1/readings?partial=true', '/v1/readings?partial=true'],
    ['/x?Password=1&from=2&flag', '/x?Password=[hidden]&from=2&flag'],
    ['/x?pass%77ord=1&%zz=2', '/x?pass%77ord=[hidden]&%zz=2'],
    ['/x', '/x'],
  ])('logs %s as %s', (url, logged) => {
    expect(loggableUrl(url)).toBe(logged)
  })
})
