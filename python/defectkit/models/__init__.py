"""Model families, one subpackage each (``reference_unet``, ...). Importing them needs torch.

Import the family you use, e.g. ``from defectkit.models.reference_unet import ReferenceUNet``;
this package imports nothing itself, so ``import defectkit.models`` stays cheap.
"""

from __future__ import annotations
