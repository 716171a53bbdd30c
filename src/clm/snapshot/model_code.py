"""MLflow "models from code" entry point of a registered snapshot model.

MLflow runs this file when it logs and when it loads the model; it is never imported by the
package. Defining the model as code means the artifact holds no pickle.
"""

from mlflow.models import set_model

from clm.snapshot.pyfunc import SnapshotScorerModel

set_model(SnapshotScorerModel())
