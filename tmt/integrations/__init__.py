"""tmt inside the training loops of frameworks: one thin adapter per framework.

    from tmt.integrations.lightning import TmtLogger        # Trainer(logger=TmtLogger())
    from tmt.integrations.transformers import TmtCallback   # Trainer(callbacks=[TmtCallback()])
    from tmt.integrations.keras import TmtCallback          # model.fit(callbacks=[TmtCallback()])
    from tmt.integrations.xgboost import TmtCallback        # xgb.train(callbacks=[TmtCallback()])
    from tmt.integrations.lightgbm import tmt_callback      # lgb.train(callbacks=[tmt_callback()])

Each module imports its framework only when it is itself imported: `import tmt` loads none
of them. The shared behaviour (which run, which rank, params, checkpoints) is in
tmt/integrations/core.py; docs/integrations.md has one complete example per framework.
"""
