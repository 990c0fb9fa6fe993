"""OAuth2 sign-in for jobs: keys, the encrypted token cache, and the token sources.

Sources never import this package: intake and the commands build a job's
BearerTokens here and hand them to open_source. msal and Authlib are imported
only when a job signs in with OAuth2.
"""
