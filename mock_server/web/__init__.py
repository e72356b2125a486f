"""Pages for a browser: the rendered API reference (/docs) and the inspector (/__mock/ui).

Static files only: the pages read the control API from the browser, so nothing here
is a second source of truth, and serving them adds no work to the API's requests.
"""
